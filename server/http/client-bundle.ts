import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The one-file browser client, built from `client/browser.ts` with esbuild on first request
 * and kept in memory, so running from source needs no build step.
 */
let bundle: Promise<string> | undefined;

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
      target: ['es2020'],
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
