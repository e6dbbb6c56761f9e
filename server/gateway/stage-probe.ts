import { appendFileSync } from 'node:fs';
/** Wall-clock milliseconds with sub-millisecond precision, comparable between processes of one machine. */
export const wallNow = () => performance.timeOrigin + performance.now();

/** Every how many offsets of a channel an event is sampled. */
export const STAGE_SAMPLE_EVERY = 4;

/**
 * Where a live event's time goes inside the gateway, for the benchmark: off unless
 * `JOBCAST_STAGE_PROBE=<file>` is set. For every {@link STAGE_SAMPLE_EVERY}th offset of a
 * channel it notes when the event came from Redis and when its last socket write returned,
 * and appends them to the file as lines `channel offset receivedAt writtenAt` (a tenth of a
 * second at a time, so the hot path only pushes to an array).
 */
export class StageProbe {
  readonly #file: string;
  #pending: string[] = [];

  constructor(file: string) {
    this.#file = file;
    setInterval(() => this.flush(), 100).unref();
    process.once('exit', () => this.flush());
  }

  /** True if `offset`'s times are wanted (cheap enough to ask for every event). */
  sampled(offset: number): boolean {
    return offset % STAGE_SAMPLE_EVERY === 0;
  }

  /** `offset` is any per-channel sequence number the other ends also know (the relay's `seq`). */
  note(channel: string, offset: number, receivedAt: number, writtenAt: number): void {
    this.#pending.push(`${channel} ${offset} ${receivedAt.toFixed(3)} ${writtenAt.toFixed(3)}\n`);
  }

  flush(): void {
    if (this.#pending.length === 0) return;
    const lines = this.#pending.join('');
    this.#pending = [];
    appendFileSync(this.#file, lines);
  }
}

/** The probe asked for by the environment, or undefined (the default: no cost at all). */
export function stageProbeFromEnv(env: NodeJS.ProcessEnv = process.env): StageProbe | undefined {
  return env.JOBCAST_STAGE_PROBE ? new StageProbe(env.JOBCAST_STAGE_PROBE) : undefined;
}
