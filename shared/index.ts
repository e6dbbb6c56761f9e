/**
 * Protocol types and schemas shared by the jobcast server and browser client.
 * @packageDocumentation
 */
export { ChannelName, JobId } from './channels.js';
export { ErrorCode, httpStatusOf } from './codes.js';
export { isJobChannel, JOB_EVENT_NAMES, JOB_STATES, jobChannel, jobIdOfChannel } from './constants.js';
export { ExternalJobReport, ExternalJobReported, ExternalJobStatus, OpenedExternalJob, OpenExternalJob, RequestId } from './external-jobs.js';
export type {
  ClientToServerEvents,
  EventClass,
  InterServerEvents,
  JobEventName,
  JobEventPayload,
  OutcomeEventName,
  ServerToClientEvents,
  SocketData,
} from './protocol.js';
export {
  ActiveEvent,
  CancelledEvent,
  ChannelEvent,
  CompletedEvent,
  DEFAULT_SOCKET_PATH,
  eventClassOf,
  FailedEvent,
  Failure,
  HttpErrorBody,
  JobEvents,
  JobState,
  jobStateAfter,
  JobStatus,
  Notice,
  OUTCOME_EVENTS,
  ProgressEvent,
  PROTOCOL_VERSION,
  QueuedEvent,
  RetryingEvent,
  StalledEvent,
  StartedJob,
  StreamPosition,
  SubscribeAck,
  SubscribeOk,
  SubscribeRequest,
  UnsubscribeAck,
  UnsubscribeRequest,
  WireError,
} from './protocol.js';
export { PusherCode } from './pusher-codes.js';
export {
  PUSHER_JOB_CHANNEL_PREFIX,
  PUSHER_PATH_PREFIX,
  PusherChannelName,
  PusherClientFrame,
  PusherConnectionData,
  PusherConnectionEstablished,
  PusherError,
  PusherEventFrame,
  PusherPosition,
  PusherSubscribeData,
  PusherSubscriptionError,
  PusherSubscriptionSucceeded,
  PusherUnsubscribeData,
} from './pusher-protocol.js';
export { Right, TokenPayload } from './token-claims.js';
