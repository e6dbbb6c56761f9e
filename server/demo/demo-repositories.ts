import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * This project's own directory (the one holding jobcast's package.json), found from this
 * module's place, so it is right from source and from `dist/` alike.
 */
export function projectRepository(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/** `path` resolved and with symbolic links followed, when it exists. */
export function canonicalPath(path: string): string {
  const resolved = resolve(path);
  try {
    return realpathSync(resolved);
  } catch {
    return resolved;
  }
}

/**
 * The repositories the demo may read: this project's own, and `extra` (`JOBCAST_DEMO_REPOS`).
 * The demo form is open to anyone who reaches the page, so it must not read arbitrary
 * directories of the server's disk.
 */
export function demoRepositories(extra: readonly string[] = []): string[] {
  return [...new Set([projectRepository(), ...extra].map(canonicalPath))];
}
