import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The one-file browser client, built from `client/browser.ts` with esbuild on first request
 * and kept in memory, so running from source needs no build step.
 */
let bundle: Promise<string> | undefined;

/**
 * The browsers the bundle is built for: every one since mid-2021. They run class fields and
 * private `#members` natively; built for older ones (ES2020), esbuild turns each `#field` read
 * into two WeakMap lookups, and the client reads several per received event.
 */
export const BROWSER_TARGETS = ['chrome91', 'edge91', 'firefox90', 'safari15'];

/** Resolves the package's `client/browser.ts`, from source (server/http) or from dist. */
function entryPoint(): string {
  for (const relative of ['../../client/browser.ts', '../../../client/browser.ts']) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('client/browser.ts not found next to the jobcast server');
}

export function clientBundle(): Promise<string> {
  bundle ??= (async () => {
    const { build } = await import('esbuild');
    const result = await build({
      entryPoints: [entryPoint()],
      bundle: true,
      minify: true,
      format: 'iife',
      target: BROWSER_TARGETS,
      platform: 'browser',
      write: false,
      legalComments: 'none',
    });
    const file = result.outputFiles[0];
    if (!file) throw new Error('esbuild produced no client bundle');
    return file.text;
  })();
  bundle.catch(() => (bundle = undefined));
  return bundle;
}
