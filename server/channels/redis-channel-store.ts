import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { ErrorCode } from '../../shared/codes.js';
import { ChannelEvent, eventClassOf, type StreamPosition } from '../../shared/protocol.js';
import { DEFAULTS } from '../defaults.js';
import { InvalidInputError, JobcastError, PayloadTooLargeError } from '../errors.js';
import type { RedisClient } from '../redis/connect.js';
import type { AppendItem, AppendOptions, ChannelStore, ReadResult } from './channel-store.js';
import { channelKey, channelKeys } from './keys.js';

const script = (name: string) => readFileSync(new URL(`./scripts/${name}`, import.meta.url), 'utf8');
const APPEND_PUBLISH = script('append-publish-4.lua');
const READ_SINCE = script('read-since-2.lua');
const APPEND_BATCH = script('append-batch-n.lua');

/** Options of {@link RedisChannelStore}. */
export interface RedisChannelStoreOptions {
  /** Key prefix. @defaultValue `jobcast:` */
  prefix?: string;
  /** Events kept per channel for recovery. @defaultValue 100 */
  historySize?: number;
  /** Seconds a channel outlives its last event. @defaultValue 86400 */
  retentionSeconds?: number;
  /** Largest event payload in bytes of JSON. @defaultValue 10240 */
  maxEventBytes?: number;
  /** Use SPUBLISH (Redis Cluster sharded pub/sub). @defaultValue false */
  sharded?: boolean;
  /** Called with every event stored (metrics). */
  onPublished?: (event: ChannelEvent) => void;
  /**
   * Plain appends (no option set) issued in the same tick go to Redis together, an
   * append-batch-n.lua call per {@link EAGER_BATCH_EVENTS}, instead of one script call each;
   * an append with options, or an `appendMany`, sends what is queued first, so the order on
   * the connection is the order of the calls. For a process with many concurrent appenders
   * (a worker); on a single Redis only (ignored with `sharded`). @defaultValue false
   */
  coalesce?: boolean;
}

/** `[offset, epoch]`, `[offset, epoch, 'instead', value]`, or `[0, epoch, reason]` when the event was dropped. */
type AppendReply = [number, string, string?, string?];
type ReadReply = [string, number, number, ...string[]];

/** The client with the two scripts defined on it (ioredis adds them as methods). */
type ScriptedRedis = RedisClient & {
  jobcastAppend(meta: string, log: string, guard: string, list: string, ...argv: string[]): Promise<AppendReply>;
  jobcastRead(meta: string, log: string, ...argv: string[]): Promise<ReadReply>;
  /** append-batch-n.lua; ioredis takes the key count as the first argument (numberOfKeys unset). */
  jobcastAppendBatch(numberOfKeys: number, ...keysAndArgv: string[]): Promise<(string | number)[]>;
};

/** Random bytes of an epoch: 8 base64url characters, the width append-batch-n.lua cuts its epochs at. */
const EPOCH_BYTES = 6;

/** Channels whose newest own append a store remembers, at most (oldest forgotten first). */
const REMEMBERED_CHANNELS = 10_000;

/**
 * Events per append-batch-n.lua call on a single Redis: about 0.4 ms of its time, so the
 * BullMQ workers sharing that Redis wait behind one call for no longer than behind one of
 * their own bigger scripts (at 500 a call, watched BullMQ jobs ran 10-15% slower).
 */
const BATCH_EVENTS = 50;

/**
 * Channel number c of a batch call as append-batch-n.lua reads it: the character of code c + 32
 * ("!" for 1), so a call may name at most 94 channels (printable ASCII), more than
 * {@link BATCH_EVENTS} events can.
 */
const CHANNEL_NUMBER = Array.from({ length: BATCH_EVENTS + 1 }, (_, c) => String.fromCharCode(c + 32));

/**
 * Queued plain appends (see {@link RedisChannelStoreOptions.coalesce}) go out as soon as this
 * many wait, not only at the end of the tick. The replies to one call come back in one read and
 * resume every job they answer at once; had those jobs' next appends all waited for the end of
 * the tick, Redis would sit idle while the worker resumed them, and the worker while Redis ran
 * them. A call every 16 lets Redis run one while the worker still resumes the jobs of the last
 * (`test/bench/jobs.ts` at concurrency 50: about 10% more jobs/s than one call per tick).
 */
export const EAGER_BATCH_EVENTS = 16;

/** {@link ChannelStore} on one Redis connection, with the Lua scripts in `./scripts`. */
export class RedisChannelStore implements ChannelStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #historySize: number;
  readonly #retention: number;
  readonly #maxEventBytes: number;
  readonly #publish: string;
  readonly #sharded: boolean;
  readonly #onPublished: ((event: ChannelEvent) => void) | undefined;
  /**
   * The newest event this store appended per channel: if Redis comes back behind it (a
   * failover lost acknowledged writes), the next append starts a new epoch instead of
   * reusing offsets subscribers may have seen.
   */
  readonly #appended = new Map<string, string>();
  readonly #historyArg: string;
  readonly #retentionArg: string;
  #epochs: Buffer = Buffer.alloc(0);
  #epochsAt = 0;
  readonly #coalesce: boolean;
  /** Plain appends waiting for the end of the tick (see {@link RedisChannelStoreOptions.coalesce}). */
  #queued: { item: AppendItem; json: string; resolve(event: ChannelEvent | null): void; reject(error: unknown): void }[] = [];

  constructor(redis: RedisClient, options: RedisChannelStoreOptions = {}) {
    if (!('jobcastAppend' in redis)) {
      redis.defineCommand('jobcastAppend', { numberOfKeys: 4, lua: APPEND_PUBLISH });
      redis.defineCommand('jobcastRead', { numberOfKeys: 2, lua: READ_SINCE });
      redis.defineCommand('jobcastAppendBatch', { lua: APPEND_BATCH });
    }
    this.#redis = redis as unknown as ScriptedRedis;
    this.#prefix = options.prefix ?? DEFAULTS.keyPrefix;
    this.#historySize = options.historySize ?? DEFAULTS.historySize;
    this.#retention = options.retentionSeconds ?? DEFAULTS.retentionSeconds;
    this.#maxEventBytes = options.maxEventBytes ?? DEFAULTS.maxEventBytes;
    this.#publish = options.sharded ? 'SPUBLISH' : 'PUBLISH';
    this.#sharded = options.sharded === true;
    this.#onPublished = options.onPublished;
    // Not on a cluster: there each channel needs a call of its own anyway, and there it was
    // seen to break the order (redis-cluster.test.ts failed 2 runs of 4; likely the
    // auto-pipelined cluster connection routing a batch call by its first argument, the key
    // count, so that a redirect put it behind appends sent after it).
    this.#coalesce = options.coalesce === true && !this.#sharded;
    this.#historyArg = String(this.#historySize);
    this.#retentionArg = String(this.#retention);
  }

  async append(channel: string, event: string, data: unknown, options: AppendOptions = {}): Promise<ChannelEvent | null> {
    const json = JSON.stringify(data ?? null);
    if (json === undefined) throw new InvalidInputError('event data must be JSON-serialisable', 'data');
    // Only a string near the limit needs counting in bytes: UTF-8 takes at most 3 per UTF-16 unit.
    if (json.length * 3 > this.#maxEventBytes && Buffer.byteLength(json) > this.#maxEventBytes) {
      throw new PayloadTooLargeError(`event data is over the ${this.#maxEventBytes}-byte limit`);
    }
    const plain = !options.reset && !options.exclude && !options.insteadIfSet && !options.record;
    if (this.#coalesce && plain) {
      return new Promise((resolve, reject) => {
        const waiting = this.#queued.push({ item: { channel, event, data }, json, resolve, reject });
        if (waiting === 1) process.nextTick(() => this.#sendQueued());
        else if (waiting >= EAGER_BATCH_EVENTS) this.#sendQueued();
      });
    }
    this.#sendQueued();
    const keys = { meta: channelKey(this.#prefix, channel, 'meta'), log: channelKey(this.#prefix, channel, 'log') };
    // The envelope around its epoch and offset, encoded here once: Lua only joins the parts.
    const head = `{"channel":${JSON.stringify(channel)},"epoch":`;
    const now = Date.now();
    const tail = `,"event":${JSON.stringify(event)},"data":${json},"ts":${now}}`;
    const instead = options.insteadIfSet;
    const insteadHead = instead ? `,"event":${JSON.stringify(instead.event)},"data":{${JSON.stringify(instead.field)}:` : '';
    const insteadTail = `},"ts":${now}}`;
    const argv = [
      head,
      tail,
      eventClassOf(event, channel),
      this.#historyArg,
      this.#retentionArg,
      this.#publish,
      this.#newEpoch(),
      this.#appended.get(channel) ?? '',
      String(now),
    ];
    // The optional arguments only when one is used: a plain append (progress) sends nine.
    if (options.reset || options.exclude || instead || options.record) {
      argv.push(
        options.reset ? 'reset' : '',
        options.exclude ? JSON.stringify(options.exclude) : '',
        instead ? eventClassOf(instead.event, channel) : '',
        insteadHead,
        insteadTail,
        options.record?.entry ?? '',
        String(options.record?.max ?? 0),
        String(options.record?.ttlSeconds ?? 0),
      );
    }
    const [offset, epoch, replaced, value] = await this.#redis.jobcastAppend(
      keys.meta,
      keys.log,
      instead?.key ?? keys.log, // not read without the guard; any key of the slot will do
      options.record?.key ?? keys.log, // likewise
      ...argv,
    );
    if (offset === 0) return null;
    // The envelope the script stored and published, as an object: its data is what the JSON
    // gives back (the script adds nothing to it), so only that is parsed again.
    const stored: ChannelEvent =
      replaced === 'instead'
        ? { channel, epoch, offset, event: instead!.event, data: { [instead!.field]: value }, ts: now }
        : { channel, epoch, offset, event, data: JSON.parse(json) as unknown, ts: now };
    this.#remember(channel, `${epoch} ${offset}`);
    this.#onPublished?.(stored);
    return stored;
  }

  /** A fresh random epoch, cut from a pool: one `randomBytes` call per 512 epochs, not per append. */
  #newEpoch(): string {
    if (this.#epochsAt >= this.#epochs.length) {
      this.#epochs = randomBytes(EPOCH_BYTES * 512);
      this.#epochsAt = 0;
    }
    const epoch = this.#epochs.toString('base64url', this.#epochsAt, this.#epochsAt + EPOCH_BYTES);
    this.#epochsAt += EPOCH_BYTES;
    return epoch;
  }

  /** Sends the queued plain appends, as one batch call (split at BATCH_EVENTS). */
  #sendQueued(): void {
    if (!this.#queued.length) return;
    const queued = this.#queued;
    this.#queued = [];
    this.#appendManyNow(
      queued.map((q) => q.item),
      queued.map((q) => q.json),
    ).then(
      (stored) => queued.forEach((q, i) => q.resolve(stored[i]!)),
      (error: unknown) => queued.forEach((q) => q.reject(error)),
    );
  }

  appendMany(items: readonly AppendItem[]): Promise<(ChannelEvent | null)[]> {
    this.#sendQueued();
    return this.#appendManyNow(items);
  }

  /** `appendMany`, with the items' data already encoded and checked when `checked` holds it (queued appends). */
  async #appendManyNow(items: readonly AppendItem[], checked?: readonly string[]): Promise<(ChannelEvent | null)[]> {
    // Everything checked and encoded before anything is written.
    const now = Date.now();
    const encoded = items.map((item, i) => {
      const json = checked?.[i] ?? JSON.stringify(item.data ?? null);
      if (json === undefined) throw new InvalidInputError('event data must be JSON-serialisable', 'data');
      if (!checked && Buffer.byteLength(json) > this.#maxEventBytes) {
        throw new PayloadTooLargeError(`event data is over the ${this.#maxEventBytes}-byte limit`);
      }
      return { item, json, tail: `,"event":${JSON.stringify(item.event)},"data":${json},"ts":${now}}` };
    });
    const stored: (ChannelEvent | null)[] = new Array<ChannelEvent | null>(items.length).fill(null);
    const indexes = items.map((_, i) => i);
    // A cluster call may only touch one hash slot: one channel's keys. On a single Redis one
    // call holds them all, up to a size that keeps Redis from blocking others for long.
    const calls: number[][] = [];
    if (this.#sharded) {
      const byChannel = new Map<string, number[]>();
      for (const i of indexes) {
        const list = byChannel.get(items[i]!.channel);
        if (list) list.push(i);
        else byChannel.set(items[i]!.channel, [i]);
      }
      calls.push(...byChannel.values());
    } else {
      for (let i = 0; i < indexes.length; i += BATCH_EVENTS) calls.push(indexes.slice(i, i + BATCH_EVENTS));
    }
    await Promise.all(calls.map((call) => this.#appendBatch(call, encoded, now, stored)));
    return stored;
  }

  /** One append-batch-n.lua call for the items at `indexes` (one channel's in order), filling `stored`. */
  async #appendBatch(
    indexes: number[],
    encoded: { item: AppendItem; json: string; tail: string }[],
    now: number,
    stored: (ChannelEvent | null)[],
  ): Promise<void> {
    const numbers = new Map<string, number>();
    const keys: string[] = [];
    const channelArgs: string[] = [];
    const eventArgs: string[] = [];
    let epochs = '';
    for (const i of indexes) {
      const { item, tail } = encoded[i]!;
      let c = numbers.get(item.channel);
      if (c === undefined) {
        c = numbers.size + 1;
        numbers.set(item.channel, c);
        keys.push(channelKey(this.#prefix, item.channel, 'meta'), channelKey(this.#prefix, item.channel, 'log'));
        channelArgs.push(`${this.#appended.get(item.channel) ?? ''}\n{"channel":${JSON.stringify(item.channel)},"epoch":`);
        // Every channel's possible new epoch, from the same pool as single appends.
        epochs += this.#newEpoch();
      }
      // The channel's number as one character (code c + 32): append-batch-n.lua reads it with string.byte.
      eventArgs.push(`${CHANNEL_NUMBER[c]}${eventClassOf(item.event, item.channel)[0]}${item.reset ? 'r' : '-'}${tail}`);
    }
    const reply = await this.#redis.jobcastAppendBatch(
      keys.length,
      ...keys,
      this.#historyArg,
      this.#retentionArg,
      this.#publish,
      String(now),
      String(numbers.size),
      epochs,
      ...channelArgs,
      ...eventArgs,
    );
    const channels = numbers.size;
    /** The newest stored event per channel of this call: remembered once, not per event. */
    const newest = new Map<string, string>();
    indexes.forEach((i, k) => {
      const offset = Number(reply[channels + k]);
      if (!offset) return;
      const { item, json } = encoded[i]!;
      const epoch = String(reply[numbers.get(item.channel)! - 1]);
      const event: ChannelEvent = { channel: item.channel, epoch, offset, event: item.event, data: JSON.parse(json) as unknown, ts: now };
      stored[i] = event;
      newest.set(item.channel, `${epoch} ${offset}`);
      this.#onPublished?.(event);
    });
    for (const [channel, position] of newest) this.#remember(channel, position);
  }

  async read(channel: string, since?: StreamPosition, options: { rebaseIfAhead?: boolean } = {}): Promise<ReadResult> {
    const keys = channelKeys(this.#prefix, channel);
    const [epoch, offset, status, ...envelopes] = await this.#redis.jobcastRead(
      keys.meta,
      keys.log,
      this.#newEpoch(),
      String(this.#retention),
      since?.epoch ?? '',
      String(since?.offset ?? 0),
      String(this.#historySize),
      options.rebaseIfAhead ? 'rebase' : '',
    );
    if (status === -1) {
      throw new JobcastError(ErrorCode.invalidPosition, `position ${since?.offset} is ahead of channel ${channel} (newest offset ${offset})`);
    }
    // Redis payloads may come from another jobcast version: validate before they travel on.
    const events = envelopes.map((e) => ChannelEvent.parse(JSON.parse(e)));
    events.sort((a, b) => a.offset - b.offset);
    return { epoch, offset: Number(offset), recovered: status === 1, events };
  }

  async savePartial(channel: string, html: string): Promise<void> {
    await this.#redis.set(channelKeys(this.#prefix, channel).partial, html, 'EX', this.#retention);
  }

  async loadPartial(channel: string): Promise<string | null> {
    return this.#redis.get(channelKeys(this.#prefix, channel).partial);
  }

  #remember(channel: string, position: string): void {
    this.#appended.delete(channel); // re-inserted last: the map's order is least recently appended first
    this.#appended.set(channel, position);
    if (this.#appended.size > REMEMBERED_CHANNELS) this.#appended.delete(this.#appended.keys().next().value!);
  }
}
