/**
 * The jobcast browser client as an ES module (it also runs in Node with socket.io-client).
 *
 * @example
 * ```ts
 * import { connect, trackJob } from 'jobcast/client';
 * const jc = connect();
 * await trackJob(jc, jobId, token, { onProgress: ({ pct }) => console.log(pct) });
 * ```
 * @packageDocumentation
 */
export { connect, JobcastConnection } from './connection.js';
export type { ConnectOptions, ConnectionState, ConnectionEvents, SubscribeOptions } from './connection.js';
export { Subscription } from './subscription.js';
export type { EventContext, GetToken, SubscriptionState, SubscriptionStateContext, TokenSource } from './subscription.js';
export { trackJob } from './track-job.js';
export type { JobHandlers, JobOutcome } from './track-job.js';
export { JobcastClientError } from './errors.js';
export { mountJobElements, trackElement } from './ui/mount.js';
export type { MountOptions } from './ui/mount.js';
