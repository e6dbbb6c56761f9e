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
export type { ConnectionEvents, ConnectionState, ConnectOptions, SubscribeOptions } from './connection.js';
export { connect, JobcastConnection } from './connection.js';
export { JobcastClientError } from './errors.js';
export type { EventContext, GetToken, SubscriptionState, SubscriptionStateContext, TokenSource } from './subscription.js';
export { Subscription } from './subscription.js';
export type { JobHandlers, JobOutcome } from './track-job.js';
export { trackJob } from './track-job.js';
export type { MountOptions } from './ui/mount.js';
export { mountJobElements, trackElement } from './ui/mount.js';
