import { jobChannel } from '../../shared/channels.js';
import type { AppendItem } from '../channels/channel-store.js';
import { PayloadTooLargeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connect.js';
import { eventMapper } from './bullmq-event-mapper.js';
import { JOB_FIELDS, type JobFacts, jobFacts } from './job-facts.js';
import { progressFromStream } from './progress-mapping.js';
import type { Watched } from './watched.js';

/** One entry of a watched queue's event stream: its fields as BullMQ wrote them. */
export type StreamFields = Record<string, string>;

/** Events whose channel event says something about the job hash (name, attempts, timestamps). */
const NEEDS_FACTS = new Set(['waiting', 'delayed', 'active', 'completed']);

/**
 * Publishes one read of a watched queue's event stream: the common events of every job in
 * it (queued, active, progress, stalled, completed without a render) become one
 * {@link ChannelStore.appendMany} call, after one pipelined read of the job hashes they need.
 * A job with anything else in the read (a failure, a retry, a removal, a render: events that
 * look up a cancel request, remove a job or render) has all its events of the read mapped one
 * by one by {@link eventMapper}, as before. The mapping is the same either way (the README's
 * table); one job's events stay in stream order; different jobs' are published at once.
 *
 * Why: the watcher shares the machine with the workers it watches. One script call, one
 * socket write and up to three hash reads per event cost more CPU than the events' own BullMQ
 * work; per read, one of each costs a small part of it.
 */
export function batchPublisher(watched: Watched, commands: RedisClient, log: Logger): (entries: readonly StreamFields[]) => Promise<void> {
  const map = eventMapper(watched, commands, log);
  const { store } = watched.deps;

  /** Whether `eventMapper` has to see this event: it does more than one append with the job hash. */
  const oneByOne = (fields: StreamFields): boolean =>
    fields.event === 'failed' ||
    fields.event === 'removed' ||
    (fields.event === 'waiting' && fields.prev === 'active') ||
    (fields.event === 'completed' && watched.renders);

  async function facts(bullIds: string[]): Promise<Map<string, JobFacts>> {
    const found = new Map<string, JobFacts>();
    if (!bullIds.length) return found;
    if (commands.isCluster) {
      // A cluster pipeline must stay in one slot; BullMQ's hash-tagged prefixes do, others not.
      const values = await Promise.all(bullIds.map((bullId) => commands.hmget(watched.key(bullId), ...JOB_FIELDS)));
      bullIds.forEach((bullId, i) => found.set(bullId, jobFacts(watched, values[i]!)));
      return found;
    }
    const pipeline = commands.pipeline();
    for (const bullId of bullIds) pipeline.hmget(watched.key(bullId), ...JOB_FIELDS);
    const replies = (await pipeline.exec()) ?? [];
    bullIds.forEach((bullId, i) => {
      const [error, values] = replies[i] ?? [new Error('no reply')];
      if (error) throw error;
      found.set(bullId, jobFacts(watched, values as (string | null)[]));
    });
    return found;
  }

  /** The appends of one job's events (as `eventMapper` maps them), or `undefined` when one needs `eventMapper`. */
  function appends(bullId: string, list: readonly StreamFields[], job: JobFacts | undefined): AppendItem[] | undefined {
    const channel = jobChannel(`${watched.label}:${bullId}`);
    const items: AppendItem[] = [];
    for (const fields of list) {
      switch (fields.event) {
        case 'waiting': {
          const prev = fields.prev;
          if (prev === undefined || prev === 'failed' || prev === 'completed' || prev === 'waiting-children') {
            // Run again after an outcome (`job.retry()`): the channel starts over.
            const reset = prev === 'failed' || prev === 'completed';
            items.push({ channel, event: 'queued', data: { job: job!.name, attempts: job!.attempts }, ...(reset ? { reset } : {}) });
          }
          break;
        }
        case 'delayed':
          // A retry after a failed attempt: the cancel flag decides what it says.
          if (job!.attemptsMade > 0) return undefined;
          items.push({ channel, event: 'queued', data: { job: job!.name, attempts: job!.attempts } });
          break;
        case 'active':
          items.push({ channel, event: 'active', data: { attempt: job!.attempt, attempts: job!.attempts } });
          break;
        case 'progress':
          items.push({ channel, event: 'progress', data: progressFromStream(fields.data) });
          break;
        case 'stalled':
          items.push({ channel, event: 'stalled', data: { message: 'the worker stopped responding; the job goes back to the queue' } });
          break;
        case 'completed':
          // No render (else one by one): the two timestamps are all that is needed of the job.
          items.push({ channel, event: 'completed', data: { partialUrl: null, durationMs: job!.durationMs } });
          break;
        default:
          // added, retries-exhausted, our own jobcast:cancel, deduplication and the rest say
          // nothing new about a job's state (as in eventMapper).
          break;
      }
    }
    return items;
  }

  const mapInOrder = async (list: readonly StreamFields[]) => {
    for (const fields of list) await map(fields);
  };

  return async (entries) => {
    const jobs = new Map<string, StreamFields[]>();
    for (const fields of entries) {
      const list = jobs.get(fields.jobId ?? '');
      // A progress report superseded by the next one in the same read is not worth publishing
      // (progress conflates; the newest is what a page shows).
      if (list && fields.event === 'progress' && list[list.length - 1]!.event === 'progress') list[list.length - 1] = fields;
      else if (list) list.push(fields);
      else jobs.set(fields.jobId ?? '', [fields]);
    }
    const slow: StreamFields[][] = [];
    let fast: [string, StreamFields[]][] = [];
    for (const [bullId, list] of jobs) {
      // No id, or one that cannot be a channel's: eventMapper skips it (and warns once).
      if (!bullId || !watched.followable(bullId) || list.some(oneByOne)) slow.push(list);
      else fast.push([bullId, list]);
    }
    const known = await facts(fast.filter(([, list]) => list.some((f) => NEEDS_FACTS.has(f.event ?? ''))).map(([bullId]) => bullId));
    const items: AppendItem[] = [];
    fast = fast.filter(([bullId, list]) => {
      const planned = appends(bullId, list, known.get(bullId));
      if (!planned) slow.push(list);
      else items.push(...planned);
      return planned !== undefined;
    });
    const results = await Promise.allSettled([
      store.appendMany(items).catch(async (error: unknown) => {
        // Progress too large for one event (nothing was written): one by one, where it
        // travels without its extra data.
        if (!(error instanceof PayloadTooLargeError)) throw error;
        await Promise.all(fast.map(([, list]) => mapInOrder(list)));
      }),
      ...slow.map(mapInOrder),
    ]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  };
}
