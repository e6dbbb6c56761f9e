import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { jobChannel } from '../../shared/channels.js';
import { eventClassOf, jobStateAfter } from '../../shared/constants.js';
import type { ExternalJobReport, ExternalJobReported, ExternalJobStatus, OpenedExternalJob, OpenExternalJob } from '../../shared/external-jobs.js';
import { type ChannelEvent, type JobState, ProgressEvent } from '../../shared/protocol.js';
import type { ChannelStore } from '../channels/channel-store.js';
import { type ExternalJobKeys, externalJobKeys, sharedKeys } from '../channels/keys.js';
import { ConflictError, InvalidInputError, NotFoundError, PayloadTooLargeError, UnauthorizedError, UnavailableError } from '../errors.js';
import type { RedisClient } from '../redis/connect.js';
import type { Right } from '../tokens.js';

const CLAIM_DUE = readFileSync(new URL('../channels/scripts/claim-due-1.lua', import.meta.url), 'utf8');

/** What {@link ExternalJobs} uses of jobcast. */
export interface ExternalJobsDeps {
  redis: RedisClient;
  store: ChannelStore;
  keyPrefix: string;
  /** Where the router is mounted, for partial URLs. */
  basePath: string;
  retentionSeconds: number;
  /** Largest rendered partial in bytes, as for jobcast's own jobs. */
  maxPartialBytes: number;
  token(channels: string[], options: { owner?: string; rights?: Right[]; ttlSeconds?: number }): Promise<string>;
  timeline?: { record(jobId: string, what: string, detail?: Record<string, unknown>): void };
}

/** What a signature-checked request still owes: the replay rule, applied when the report is new. */
export interface ReportContext {
  /** Marks the request's signature used; false if it was used before (a replay). */
  claimSignature(): Promise<boolean>;
}

const PENDING = 'pending';
/** A retried report gets its first answer for this long (well past the 600 s signature window). */
const REQUEST_TTL_SECONDS = 3600;
/** How long a report being applied blocks its own retries before they may apply it again. */
const PENDING_TTL_SECONDS = 60;

type Claimer = RedisClient & { jobcastClaimDue(key: string, now: string, leaseMs: string, count: string): Promise<string[]> };

/**
 * Jobs of other job systems (Sidekiq, Resque, Celery, RQ…), reported over the signed HTTP API:
 * an adapter that turns reports into jobcast's own job events on the one channel log, so
 * ordering, snapshot, recovery and the one outcome come from {@link ChannelStore.append}.
 *
 * - The job channel is `job:<jobId>`, with `jobId` derived from the app and the caller's id,
 *   so opening twice gives the same channel and no app can reach another's jobs.
 * - Every report carries a request id: a report sent again (the worker timed out waiting) gets
 *   its first answer and changes nothing. The one outcome is claimed by its request id first,
 *   so a completion racing the deadline, or a retried completion, stores one partial.
 * - Deadlines: with no report for `stalledAfterSeconds` the channel gets `stalled`; for
 *   `failedAfterSeconds`, `failed`. {@link ExternalJobs.sweepDeadlines} runs the checks.
 */
export class ExternalJobs {
  readonly #deps: ExternalJobsDeps;
  readonly #redis: Claimer;

  constructor(deps: ExternalJobsDeps) {
    this.#deps = deps;
    if (!('jobcastClaimDue' in deps.redis)) deps.redis.defineCommand('jobcastClaimDue', { numberOfKeys: 1, lua: CLAIM_DUE });
    this.#redis = deps.redis as Claimer;
  }

  /** The jobcast job id of an app's external job id: stable, opaque, never a BullMQ id (24 chars). */
  static jobIdOf(appId: string, id: string): string {
    return 'x-' + createHash('sha256').update(`${appId}\n${id}`).digest('base64url').slice(0, 22);
  }

  /** Opens the job's channel (publishing `queued`), or finds it open; a fresh token either way. */
  async open(appId: string, body: OpenExternalJob): Promise<OpenedExternalJob> {
    const jobId = ExternalJobs.jobIdOf(appId, body.id);
    const channel = jobChannel(jobId);
    const keys = this.#keys(channel);
    const redis = this.#redis;
    const retention = this.#deps.retentionSeconds;
    const created = (await redis.hsetnx(keys.record, 'app', appId)) === 1;
    const name = body.name ?? 'external';
    const attempts = body.attempts ?? 1;
    if (created) {
      const now = Date.now();
      await redis.hset(keys.record, {
        id: body.id,
        name,
        attempts,
        attempt: 0,
        createdAt: now,
        quietFrom: now,
        ...(body.stalledAfterSeconds ? { stalledAfterMs: Math.round(body.stalledAfterSeconds * 1000) } : {}),
        ...(body.failedAfterSeconds ? { failedAfterMs: Math.round(body.failedAfterSeconds * 1000) } : {}),
      });
      await redis.expire(keys.record, retention);
      const first = body.stalledAfterSeconds ?? body.failedAfterSeconds;
      if (first) await redis.zadd(sharedKeys(this.#deps.keyPrefix).externalDeadlines, now + Math.round(first * 1000), jobId);
      this.#deps.timeline?.record(jobId, 'enqueued', { job: name, app: appId, externalId: body.id });
    }
    // Also on a reopen: an open that died between the record and the event left an empty channel.
    if (created || (await this.#deps.store.read(channel)).offset === 0) {
      await this.#deps.store.append(channel, 'queued', { job: name, attempts }, { reset: true });
    }
    const token = await this.#deps.token([channel], {
      rights: ['subscribe'],
      ...(body.owner ? { owner: body.owner } : {}),
      ...(body.ttlSeconds ? { ttlSeconds: body.ttlSeconds } : {}),
    });
    return { jobId, channel, token, id: body.id, created };
  }

  /**
   * Applies one report. Answers a request id seen before with its first answer
   * (`duplicate: true`); 404 for a job the app never opened, 409 after the outcome,
   * 413 for an oversized partial, 401 for a replayed signature of a report not applied.
   */
  async report(appId: string, id: string, report: ExternalJobReport, context: ReportContext): Promise<ExternalJobReported> {
    const jobId = ExternalJobs.jobIdOf(appId, id);
    const channel = jobChannel(jobId);
    const keys = this.#keys(channel);
    const record = await this.#record(keys, appId, id);
    const requestKey = keys.request(report.requestId);
    const earlier = await this.#redis.get(requestKey);
    if (earlier !== null && earlier !== PENDING) return { ...(JSON.parse(earlier) as ExternalJobReported), duplicate: true };
    if (!(await context.claimSignature())) throw new UnauthorizedError('this signed request was already used (replay)');
    if (report.type === 'completed') this.#checkResult(report);
    if ((await this.#redis.set(requestKey, PENDING, 'EX', PENDING_TTL_SECONDS, 'NX')) === null) {
      const now = await this.#redis.get(requestKey);
      if (now !== null && now !== PENDING) return { ...(JSON.parse(now) as ExternalJobReported), duplicate: true };
      throw new UnavailableError(`request ${report.requestId} is still being applied; send it again in a moment`);
    }
    try {
      const answer = await this.#apply(jobId, channel, keys, record, report);
      await this.#redis.set(requestKey, JSON.stringify(answer), 'EX', REQUEST_TTL_SECONDS);
      return answer;
    } catch (error) {
      // Refused or failed: the request id is free again, and nothing else was written.
      await this.#redis.del(requestKey).catch(() => undefined);
      throw error;
    }
  }

  /** The status of an app's external job; 404 when the app has none with this id. */
  async status(appId: string, id: string): Promise<ExternalJobStatus> {
    const jobId = ExternalJobs.jobIdOf(appId, id);
    await this.#record(this.#keys(jobChannel(jobId)), appId, id);
    const status = await this.statusOf(jobId);
    if (!status) throw new NotFoundError(`no external job with id ${id}`);
    return status;
  }

  /** The status of an external job by its jobcast job id, or `null` if it is not one. */
  async statusOf(jobId: string): Promise<ExternalJobStatus | null> {
    const channel = jobChannel(jobId);
    const r = await this.#redis.hgetall(this.#keys(channel).record);
    if (!r.app || !r.id) return null;
    const { events } = await this.#deps.store.read(channel);
    const newest = (cls: string) => events.filter((e) => eventClassOf(e.event, channel) === cls).pop();
    const outcome = newest('outcome');
    const moving = [newest('lifecycle'), newest('progress')].filter((e): e is ChannelEvent => e !== undefined).sort((a, b) => b.offset - a.offset)[0];
    const state: JobState = (outcome ? jobStateAfter(outcome.event) : moving ? jobStateAfter(moving.event) : null) ?? 'queued';
    const progress = ProgressEvent.safeParse(newest('progress')?.data);
    const attempt = Number(r.attempt ?? 0);
    const outcomeData = (outcome?.data ?? {}) as { partialUrl?: unknown; error?: unknown };
    return {
      jobId,
      id: r.id,
      external: true,
      name: r.name ?? 'external',
      state,
      progress: progress.success ? progress.data : null,
      attemptsMade: outcome ? Math.max(attempt, 1) : state === 'retrying' ? attempt : Math.max(attempt - 1, 0),
      attempts: Number(r.attempts ?? 1),
      ...(outcome?.event === 'failed' && typeof outcomeData.error === 'string' ? { error: outcomeData.error } : {}),
      createdAt: numberOrNull(r.createdAt),
      startedAt: numberOrNull(r.startedAt),
      finishedAt: outcome ? outcome.ts : null,
      partialUrl: outcome?.event === 'completed' && typeof outcomeData.partialUrl === 'string' ? outcomeData.partialUrl : null,
    };
  }

  /**
   * Checks every external job whose deadline has come. Safe in several processes at once: each
   * due job is claimed by one (a lease in the schedule) before it is looked at.
   * @returns how many jobs were checked
   */
  async sweepDeadlines(now = Date.now(), { leaseMs = 30_000, count = 100 } = {}): Promise<number> {
    const due = await this.#redis.jobcastClaimDue(sharedKeys(this.#deps.keyPrefix).externalDeadlines, String(now), String(leaseMs), String(count));
    for (const jobId of due) await this.#checkDeadline(jobId, now);
    return due.length;
  }

  async #checkDeadline(jobId: string, now: number): Promise<void> {
    const channel = jobChannel(jobId);
    const keys = this.#keys(channel);
    const schedule = sharedKeys(this.#deps.keyPrefix).externalDeadlines;
    const r = await this.#redis.hgetall(keys.record);
    if (!r.app || r.finishedAt) {
      await this.#redis.zrem(schedule, jobId);
      return;
    }
    const quietFrom = Number(r.quietFrom ?? r.createdAt ?? now);
    const stalledAfter = numberOrNull(r.stalledAfterMs);
    const failedAfter = numberOrNull(r.failedAfterMs);
    const quietSeconds = Math.round((now - quietFrom) / 1000);
    if (failedAfter !== null && now - quietFrom >= failedAfter) {
      const claimed = (await this.#redis.set(keys.outcome, `deadline:${now}`, 'EX', this.#deps.retentionSeconds, 'NX')) !== null;
      if (claimed) {
        const error = `the worker sent no report for ${quietSeconds} s and is taken for dead`;
        await this.#deps.store.append(channel, 'failed', { error, attempts: Number(r.attempt ?? 0), retryable: false });
        await this.#redis.hset(keys.record, 'finishedAt', now);
        this.#deps.timeline?.record(jobId, 'deadline passed', { failedAfterMs: failedAfter });
      }
      await this.#redis.zrem(schedule, jobId);
      return;
    }
    let stalled = numberOrNull(r.stalledAt) !== null && Number(r.stalledAt) >= quietFrom;
    if (stalledAfter !== null && !stalled && now - quietFrom >= stalledAfter) {
      await this.#deps.store.append(channel, 'stalled', { message: `the worker sent no report for ${quietSeconds} s` });
      await this.#redis.hset(keys.record, 'stalledAt', now);
      stalled = true;
    }
    const next = [stalledAfter !== null && !stalled ? quietFrom + stalledAfter : null, failedAfter !== null ? quietFrom + failedAfter : null].filter(
      (t): t is number => t !== null,
    );
    if (next.length) await this.#redis.zadd(schedule, Math.min(...next), jobId);
    else await this.#redis.zrem(schedule, jobId);
  }

  async #apply(jobId: string, channel: string, keys: ExternalJobKeys, record: Record<string, string>, report: ExternalJobReport): Promise<ExternalJobReported> {
    const { store, redis } = { store: this.#deps.store, redis: this.#redis };
    const now = Date.now();
    const known = Number(record.attempts ?? 1);
    const fields: Record<string, string | number> = { lastReportAt: now, quietFrom: now };
    let stored: ChannelEvent | null = null;
    const refuse = () => new ConflictError(`job ${record.id} already has its outcome; nothing changed`);

    if (report.type === 'completed' || report.type === 'failed') {
      const claimed = (await redis.set(keys.outcome, report.requestId, 'EX', this.#deps.retentionSeconds, 'NX')) !== null;
      // A retry of the very report that claimed the outcome (its answer was lost) goes on.
      if (!claimed && (await redis.get(keys.outcome)) !== report.requestId) throw refuse();
      const startedAt = numberOrNull(record.startedAt);
      const data =
        report.type === 'completed'
          ? {
              partialUrl: report.html !== undefined ? `${this.#deps.basePath}/jobs/${jobId}/partial` : (report.url ?? null),
              durationMs: startedAt === null ? 0 : Math.max(0, now - startedAt),
            }
          : { error: report.error, attempts: Number(record.attempt ?? 0), retryable: false };
      try {
        if (report.type === 'completed' && report.html !== undefined) await store.savePartial(channel, report.html);
        stored = await store.append(channel, report.type, data);
      } catch (error) {
        // Redis failed before the outcome was stored: free the claim, or no later report (nor
        // the deadline) could ever end the job.
        if (claimed) await redis.del(keys.outcome).catch(() => undefined);
        throw error;
      }
      if (!stored) {
        const existing = (await store.read(channel)).events.find((e) => e.event === report.type);
        if (!claimed && existing) return { jobId, event: report.type, offset: existing.offset, duplicate: false };
        throw refuse();
      }
      fields.finishedAt = now;
      await redis.zrem(sharedKeys(this.#deps.keyPrefix).externalDeadlines, jobId);
      this.#deps.timeline?.record(jobId, report.type === 'completed' ? 'completed' : 'failed', { externalId: record.id });
    } else {
      if (record.finishedAt) throw refuse();
      if (report.type === 'active') {
        const attempt = report.attempt ?? 1;
        const attempts = report.attempts ?? Math.max(known, attempt);
        stored = await store.append(channel, 'active', { attempt, attempts });
        Object.assign(fields, { attempt, attempts });
      } else if (report.type === 'progress') {
        stored = await store.append(channel, 'progress', {
          pct: report.pct ?? null,
          ...(report.stage !== undefined ? { stage: report.stage } : {}),
          ...(report.message !== undefined ? { message: report.message } : {}),
        });
      } else if (report.type === 'retrying') {
        const attempts = report.attempts ?? Math.max(known, report.attempt);
        const retryAt = report.retryAt ?? (report.retryInSeconds !== undefined ? now + Math.round(report.retryInSeconds * 1000) : null);
        stored = await store.append(channel, 'retrying', { attempt: report.attempt, attempts, error: report.error, retryAt });
        // Silence until the next attempt is expected, not a dead worker.
        Object.assign(fields, { attempt: report.attempt - 1, attempts, quietFrom: Math.max(now, retryAt ?? now) });
      }
      if (report.type !== 'heartbeat' && !stored) throw refuse();
      if (report.type !== 'heartbeat' && report.type !== 'retrying') await redis.hsetnx(keys.record, 'startedAt', now);
      const first = numberOrNull(record.stalledAfterMs) ?? numberOrNull(record.failedAfterMs);
      if (first !== null) await redis.zadd(sharedKeys(this.#deps.keyPrefix).externalDeadlines, Number(fields.quietFrom) + first, jobId);
    }
    await redis.hset(keys.record, fields);
    await redis.expire(keys.record, this.#deps.retentionSeconds);
    return { jobId, event: stored?.event ?? null, offset: stored?.offset ?? null, duplicate: false };
  }

  /** A completed report names one result, within the partial limit. */
  #checkResult(report: Extract<ExternalJobReport, { type: 'completed' }>): void {
    if (report.html !== undefined && report.url !== undefined) throw new InvalidInputError('body: send html or url, not both', 'url');
    if (report.html !== undefined && Buffer.byteLength(report.html) > this.#deps.maxPartialBytes) {
      throw new PayloadTooLargeError(`html is over the ${this.#deps.maxPartialBytes}-byte partial limit`);
    }
  }

  /** The job's record; 404 when the app never opened this id (another app's answers the same). */
  async #record(keys: ExternalJobKeys, appId: string, id: string): Promise<Record<string, string>> {
    const record = await this.#redis.hgetall(keys.record);
    if (record.app !== appId || record.id !== id)
      throw new NotFoundError(`no external job with id ${id}; open it first with POST /apps/${appId}/external-jobs`);
    return record;
  }

  #keys(channel: string): ExternalJobKeys {
    return externalJobKeys(this.#deps.keyPrefix, channel);
  }
}

function numberOrNull(value: string | undefined): number | null {
  return value === undefined || value === '' ? null : Number(value);
}
