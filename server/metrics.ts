import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The type label of an event: job lifecycle names as they are, anything else `custom`. */
const TYPES = new Set(['queued', 'active', 'progress', 'retrying', 'stalled', 'completed', 'failed', 'cancelled']);
export const eventType = (event: string) => (TYPES.has(event) ? event : 'custom');

/**
 * jobcast's Prometheus metrics, every name prefixed `jobcast_`, in a registry of its own (so an
 * app's own prom-client registry is not touched). Each process reports what it does itself.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly published: Counter<'type'>;
  readonly delivered: Counter<'type'>;
  readonly conflated: Counter;
  readonly deliveryLatency: Histogram;
  readonly outcomeAckLatency: Histogram;
  readonly outcomesUnacknowledged: Gauge;
  readonly jobDuration: Histogram<'job' | 'outcome'>;
  readonly retries: Counter<'job'>;
  readonly stalls: Counter<'job'>;
  readonly redisReconnects: Counter;
  readonly connections: Gauge;
  readonly subscriptions: Gauge;
  readonly channels: Gauge;
  readonly queueJobs: Gauge<'job' | 'state'>;

  /** Deliveries by type since the metric was last read: a labelled `inc` per event costs more. */
  readonly #deliveredSince = new Map<string, number>();
  /** Appends by type since the metric was last read, likewise (a worker appends 12 events a job). */
  readonly #publishedSince = new Map<string, number>();

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'jobcast_process_' });
    const unpublished = this.#publishedSince;
    this.published = new Counter({
      name: 'jobcast_events_published_total',
      help: 'Events appended to channel logs by this process',
      labelNames: ['type'],
      registers,
      // The counts since the last scrape go in as it is read (countPublished).
      collect() {
        for (const [type, count] of unpublished) this.inc({ type }, count);
        unpublished.clear();
      },
    });
    const undelivered = this.#deliveredSince;
    this.delivered = new Counter({
      name: 'jobcast_events_delivered_total',
      help: 'Events written to client connections by this gateway',
      labelNames: ['type'],
      registers,
      // The counts since the last scrape go in as it is read (countDelivery).
      collect() {
        for (const [type, count] of undelivered) this.inc({ type }, count);
        undelivered.clear();
      },
    });
    this.conflated = new Counter({
      name: 'jobcast_events_conflated_total',
      help: 'Progress events not sent to slow clients because a newer one replaced them',
      registers,
    });
    this.deliveryLatency = new Histogram({
      name: 'jobcast_delivery_latency_seconds',
      help: 'From the publish call to the gateway writing the event to its clients',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.outcomeAckLatency = new Histogram({
      name: 'jobcast_outcome_ack_latency_seconds',
      help: 'From a job outcome being published to a browser acknowledging it',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.outcomesUnacknowledged = new Gauge({
      name: 'jobcast_outcomes_unacknowledged',
      help: 'Outcome events this gateway delivered that no subscriber acknowledged yet',
      registers,
    });
    this.jobDuration = new Histogram({
      name: 'jobcast_job_duration_seconds',
      help: 'Run time of one job attempt',
      labelNames: ['job', 'outcome'],
      buckets: [0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.retries = new Counter({ name: 'jobcast_job_retries_total', help: 'Failed attempts that will run again', labelNames: ['job'], registers });
    this.stalls = new Counter({ name: 'jobcast_job_stalls_total', help: 'Jobs whose worker stopped renewing the lock', labelNames: ['job'], registers });
    this.redisReconnects = new Counter({ name: 'jobcast_redis_reconnects_total', help: 'Reconnections to Redis', registers });
    this.connections = new Gauge({
      name: 'jobcast_connections',
      help: 'Client connections on this gateway, by transport (socket.io, pusher)',
      labelNames: ['transport'],
      registers,
    });
    this.subscriptions = new Gauge({ name: 'jobcast_subscriptions', help: 'Channel subscriptions on this gateway', registers });
    this.channels = new Gauge({ name: 'jobcast_channels', help: 'Channels this gateway receives from Redis', registers });
    this.queueJobs = new Gauge({
      name: 'jobcast_queue_jobs',
      help: 'Jobs per type and state (read from BullMQ at scrape time)',
      labelNames: ['job', 'state'],
      registers,
    });
  }

  /** One event appended to a channel log by this process. */
  countPublished(event: string): void {
    const type = eventType(event);
    this.#publishedSince.set(type, (this.#publishedSince.get(type) ?? 0) + 1);
  }

  /** One event written to `connections` connections by a gateway, published at `ts`. */
  countDelivery(event: string, connections: number, ts: number): void {
    const type = eventType(event);
    this.#deliveredSince.set(type, (this.#deliveredSince.get(type) ?? 0) + connections);
    this.deliveryLatency.observe(Math.max(0, Date.now() - ts) / 1000);
  }
}
