/**
 * At most one progress write per `everyMs` for a job that reports progress in a tight loop
 * (`defineJob({ progressEveryMs })`): the first report goes out at once, later ones within the
 * interval wait, and only the latest of them is written when it ends; the others are dropped.
 * Every caller's promise settles with the write that carried its report or replaced it.
 * `flush()` writes the waiting report now: the attempt calls it before anything else is
 * published (an outcome, `cancelled`), so watchers always see the last progress first.
 * Lifecycle events and outcomes never pass through here.
 */
export class ProgressCoalescer<T> {
  readonly #everyMs: number;
  readonly #write: (data: T) => Promise<void>;
  #lastWriteAt = -Infinity;
  #pending: { data: T; settle: Array<[resolve: () => void, reject: (error: unknown) => void]> } | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(everyMs: number, write: (data: T) => Promise<void>) {
    this.#everyMs = everyMs;
    this.#write = write;
  }

  push(data: T): Promise<void> {
    const now = performance.now();
    if (!this.#pending && now - this.#lastWriteAt >= this.#everyMs) {
      this.#lastWriteAt = now;
      return this.#write(data);
    }
    return new Promise<void>((resolve, reject) => {
      // Latest wins: an earlier waiting report is replaced, its caller settles with this write.
      const settle = this.#pending?.settle ?? [];
      settle.push([resolve, reject]);
      this.#pending = { data, settle };
      this.#timer ??= setTimeout(() => void this.flush(), Math.max(0, this.#lastWriteAt + this.#everyMs - now));
    });
  }

  /** Writes the waiting report, if any, now; resolves once it is written (never rejects). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = null;
    this.#lastWriteAt = performance.now();
    try {
      await this.#write(pending.data);
      for (const [resolve] of pending.settle) resolve();
    } catch (error) {
      for (const [, reject] of pending.settle) reject(error);
    }
  }
}
