import { resolve } from 'node:path';
import { z } from 'zod';
import { defineJob } from '../jobs/define-job.js';
import { analyseRepository, isGitRepository, type HistoryReport } from './git-history.js';
import { renderDashboard } from './render-dashboard.js';

/** How long the demo spreads its real work over, so a person sees the bar move. */
const PACE_MS = { watchable: 5_000, fast: 0 } as const;

const AnalyseInput = z.object({
  path: z
    .string()
    .trim()
    .min(1, 'enter the path of a git repository')
    .max(500, 'the path is too long (500 characters at most)')
    .transform((path) => resolve(path))
    .refine(isGitRepository, { message: 'not a git repository (or it has no commits)' }),
  pace: z.enum(['watchable', 'fast']).default('watchable'),
});

/**
 * The demo job: analyses a local git repository's history in stages and renders a dashboard
 * (authors, activity over time, churn, ownership) as an HTML partial.
 */
export const analyseHistory = defineJob({
  name: 'analyse-history',
  input: AnalyseInput,
  timeoutMs: 120_000,
  async handler(input, ctx): Promise<HistoryReport> {
    return analyseRepository(input.path, {
      signal: ctx.signal,
      paceMs: PACE_MS[input.pace],
      onProgress: (p) => ctx.progress(p.pct, { stage: p.stage, ...(p.message ? { message: p.message } : {}) }),
    });
  },
  render: (report) => renderDashboard(report),
});
