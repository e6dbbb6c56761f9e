import { z } from 'zod';

import { JobId } from './channels.js';
import { JobStatus } from './protocol.js';
import { TokenTtlSeconds } from './token-claims.js';

/**
 * Wire messages of the external-jobs API: jobs run by another job system (Sidekiq, Resque,
 * Celery, RQ…) that report their lifecycle to jobcast over the signed HTTP API
 * (`/apps/:appId/external-jobs…`). The events they cause on the job channel are jobcast's own
 * (`queued`, `active`, `progress`, `retrying`, `stalled`, `completed`, `failed`).
 */

/** A worker's id for one report; the same report sent again with it is applied once. */
export const RequestId = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'request ids use only letters, digits and _.:-');
export type RequestId = z.infer<typeof RequestId>;

const seconds = z
  .number()
  .positive()
  .max(7 * 86_400);

/** `POST /apps/:appId/external-jobs`: open (or reopen) the channel of the caller's job id. */
export const OpenExternalJob = z
  .object({
    /** The job system's own id (a Sidekiq jid, an RQ or Celery id). */
    id: JobId,
    /** Shown in status and the admin console. @defaultValue `external` */
    name: z.string().min(1).max(100).optional(),
    /** Attempts the job system will make in all. @defaultValue 1 */
    attempts: z.number().int().positive().max(1000).optional(),
    /** With no report for this long, the channel gets `stalled`. Every report restarts the clock. */
    stalledAfterSeconds: seconds.optional(),
    /** With no report for this long, the job `failed` (the worker is taken for dead). */
    failedAfterSeconds: seconds.optional(),
    /** Recorded in the browser token. */
    owner: z.string().max(200).optional(),
    /** Lifetime of the returned browser token. */
    ttlSeconds: TokenTtlSeconds.optional(),
    /** Accepted and ignored: opening is idempotent by `id` already. */
    requestId: RequestId.optional(),
  })
  .refine((o) => o.failedAfterSeconds === undefined || o.stalledAfterSeconds === undefined || o.failedAfterSeconds > o.stalledAfterSeconds, {
    message: 'failedAfterSeconds must be longer than stalledAfterSeconds',
    path: ['failedAfterSeconds'],
  });
export type OpenExternalJob = z.infer<typeof OpenExternalJob>;

/** Answer of opening: the channel and a browser token (subscribe right), as for jobcast's own jobs. */
export const OpenedExternalJob = z.object({
  jobId: z.string(),
  channel: z.string(),
  token: z.string(),
  /** The caller's id, as sent. */
  id: z.string(),
  /** False when the id was opened before (same channel, a fresh token). */
  created: z.boolean(),
});
export type OpenedExternalJob = z.infer<typeof OpenedExternalJob>;

/** A URL the browser fetches for the result: a path on the page's origin, or http(s). */
const ResultUrl = z
  .string()
  .max(2000)
  .refine((u) => (u.startsWith('/') && !u.startsWith('//')) || /^https?:\/\/[^\s]+$/.test(u), 'url must be a path starting with / or an http(s) URL');

const report = { requestId: RequestId };

/** `POST /apps/:appId/external-jobs/:id/events`: one report, by `type`. */
export const ExternalJobReport = z.discriminatedUnion('type', [
  z.object({ ...report, type: z.literal('active'), attempt: z.number().int().positive().optional(), attempts: z.number().int().positive().optional() }),
  z.object({
    ...report,
    type: z.literal('progress'),
    /** 0–100, or null (or left out) when the job cannot tell how far it is. */
    pct: z.number().min(0).max(100).nullable().optional(),
    stage: z.string().max(200).optional(),
    message: z.string().max(1000).optional(),
  }),
  z.object({
    ...report,
    type: z.literal('retrying'),
    /** The attempt that comes next (2 after the first failure). */
    attempt: z.number().int().min(2),
    attempts: z.number().int().positive().optional(),
    error: z.string().min(1).max(500),
    /** When the next attempt starts, in ms since the epoch; or `retryInSeconds`. */
    retryAt: z.number().int().nonnegative().optional(),
    retryInSeconds: z
      .number()
      .nonnegative()
      .max(7 * 86_400)
      .optional(),
  }),
  z.object({ ...report, type: z.literal('heartbeat') }),
  z.object({
    ...report,
    type: z.literal('completed'),
    /** The rendered result, stored once and served by `GET <base>/jobs/:jobId/partial`. */
    html: z.string().optional(),
    /** Or a URL the browser fetches for the result. */
    url: ResultUrl.optional(),
  }),
  z.object({ ...report, type: z.literal('failed'), error: z.string().min(1).max(500) }),
]);
export type ExternalJobReport = z.infer<typeof ExternalJobReport>;

/** Answer of a report. `duplicate`: this request id was applied before; nothing changed now. */
export const ExternalJobReported = z.object({
  jobId: z.string(),
  /** The event appended to the job channel (`null` for a heartbeat). */
  event: z.string().nullable(),
  offset: z.number().int().nullable(),
  duplicate: z.boolean(),
});
export type ExternalJobReported = z.infer<typeof ExternalJobReported>;

/** `GET /apps/:appId/external-jobs/:id`: jobcast's job status, plus the caller's id. */
export const ExternalJobStatus = JobStatus.extend({ id: z.string(), external: z.literal(true) });
export type ExternalJobStatus = z.infer<typeof ExternalJobStatus>;
