import type { Jobcast } from '../../server/index.js';
import { jobChannel } from '../../shared/constants.js';

/**
 * Job ids, channels and subscribe tokens for jobs not started yet, so watchers can subscribe
 * before the first event and a test can check every offset.
 */
export function plannedJobs(jobcast: Jobcast, count: number, tag: string): Promise<{ jobId: string; channel: string; token: string }[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const jobId = `${tag}-${i}-${Math.random().toString(36).slice(2, 8)}`;
      return { jobId, channel: jobChannel(jobId), token: await jobcast.token([jobChannel(jobId)]) };
    }),
  );
}
