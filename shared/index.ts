/**
 * Protocol types and schemas shared by the jobcast server and browser client.
 * @packageDocumentation
 */
export {
  PROTOCOL_VERSION,
  DEFAULT_SOCKET_PATH,
  StreamPosition,
  QueuedEvent,
  ActiveEvent,
  ProgressEvent,
  RetryingEvent,
  StalledEvent,
  CompletedEvent,
  FailedEvent,
  CancelledEvent,
  JobEvents,
  OUTCOME_EVENTS,
  eventClassOf,
  JobState,
  jobStateAfter,
  ChannelEvent,
  SubscribeRequest,
  UnsubscribeRequest,
  WireError,
  SubscribeOk,
  Failure,
  SubscribeAck,
  UnsubscribeAck,
  Notice,
  StartedJob,
  JobStatus,
  HttpErrorBody,
} from './protocol.js';
export type {
  JobEventName,
  JobEventPayload,
  OutcomeEventName,
  EventClass,
  ServerToClientEvents,
  ClientToServerEvents,
  InterServerEvents,
  SocketData,
} from './protocol.js';
export { RequestId, OpenExternalJob, OpenedExternalJob, ExternalJobReport, ExternalJobReported, ExternalJobStatus } from './external-jobs.js';
export { ChannelName, JobId } from './channels.js';
export { isJobChannel, jobChannel, jobIdOfChannel, JOB_EVENT_NAMES, JOB_STATES } from './constants.js';
export { ErrorCode, httpStatusOf } from './codes.js';
export { Right, TokenPayload } from './token-claims.js';
export { PusherCode } from './pusher-codes.js';
export {
  PUSHER_PATH_PREFIX,
  PUSHER_JOB_CHANNEL_PREFIX,
  PusherChannelName,
  PusherClientFrame,
  PusherSubscribeData,
  PusherUnsubscribeData,
  PusherPosition,
  PusherConnectionData,
  PusherConnectionEstablished,
  PusherError,
  PusherSubscriptionSucceeded,
  PusherSubscriptionError,
  PusherEventFrame,
} from './pusher-protocol.js';
