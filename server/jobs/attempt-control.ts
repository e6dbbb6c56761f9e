/**
 * How one attempt of a job is stopped: a cancel request, shutdown, its time limit, its end.
 *
 * An `AbortController` per job cost a worker about 5% of its CPU at thousands of jobs a second
 * (the signal, its listener, the `abort` event at the end of every attempt), and most handlers
 * never read `ctx.signal`. So the signal is made the first time a handler asks for it (already
 * aborted, with the reason, if the attempt was stopped before), and the attempt itself waits on
 * a plain promise.
 */
export class AttemptControl {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  #reject: ((reason: unknown) => void) | undefined;

  /** True once {@link abort} was called. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** What the attempt was stopped with, or undefined while it runs. */
  get reason(): unknown {
    return this.#reason;
  }

  /** The handler's `ctx.signal`, made on first use. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Stops the attempt with `reason`; later calls change nothing (the first reason stays). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.#reject?.(reason);
    this.#reject = undefined;
  }

  /** A promise that never resolves and rejects with the reason once the attempt is stopped (one per attempt). */
  stopped(): Promise<never> {
    return new Promise<never>((_, reject) => {
      if (this.#aborted) reject(this.#reason);
      else this.#reject = reject;
    });
  }
}
