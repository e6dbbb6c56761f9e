import { z } from 'zod';

import { defineJob } from '../jobs/define-job.js';
import { canonicalPath, demoRepositories } from './demo-repositories.js';
import { analyseRepository, type HistoryReport, isGitRepository } from './git-history.js';
import { renderDashboard } from './render-dashboard.js';

/** How long the demo spreads its real work over, so a person sees the bar move. */
const PACE_MS = { watchable: 5_000, fast: 0 } as const;

/**
 * The demo job: analyses the history of one of the allowed git repositories (`repositories`;
 * default: this project's own) in stages and renders a dashboard (authors, activity over
 * time, churn, ownership) as an HTML partial. Any other path is refused as invalid input
 * before anything on the disk is looked at.
 */
export function createAnalyseHistoryJob(repositories: readonly string[] = demoRepositories()) {
  const allowed = new Set(repositories.map(canonicalPath));
  const AnalyseInput = z.object({
    path: z
      .string()
      .trim()
      .min(1, 'enter the path of a git repository')
      .max(500, 'the path is too long (500 characters at most)')
      .transform(canonicalPath)
      .refine((path) => allowed.has(path), {
        message: `this demo analyses only its allowed repositories (${[...allowed].join(', ')}); add more with JOBCAST_DEMO_REPOS`,
        abort: true, // nothing else about a refused path is looked at, not even whether it is a repository
      })
      .refine(isGitRepository, { message: 'not a git repository (or it has no commits)' }),
    pace: z.enum(['watchable', 'fast']).default('watchable'),
  });
  return defineJob({
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
}
