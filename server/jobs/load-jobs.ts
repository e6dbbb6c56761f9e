import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import type { AnyJobDefinition, JobDefinition } from './define-job.js';

function isJobDefinition(value: unknown): value is JobDefinition<unknown, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<JobDefinition<unknown, unknown>>;
  return typeof v.name === 'string' && typeof v.handler === 'function' && typeof v.input === 'object' && v.input !== null && 'safeParse' in v.input;
}

/**
 * Loads job definitions from modules (paths, comma-separated in `JOBCAST_JOBS`): every export
 * made with `defineJob` counts. This is how `jobcast worker` runs your jobs.
 */
export async function loadJobModules(specifiers: string[]): Promise<AnyJobDefinition[]> {
  const jobs: AnyJobDefinition[] = [];
  for (const specifier of specifiers) {
    // A file that exists is a path (relative to the working directory); else a package name.
    const url = existsSync(resolve(specifier)) ? pathToFileURL(resolve(specifier)).href : specifier;
    let module: Record<string, unknown>;
    try {
      module = (await import(url)) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`could not load job module ${specifier}: ${(error as Error).message}`, { cause: error });
    }
    const found = Object.values(module).filter(isJobDefinition);
    if (found.length === 0) throw new Error(`job module ${specifier} exports no job defined with defineJob`);
    jobs.push(...found);
  }
  return jobs;
}
