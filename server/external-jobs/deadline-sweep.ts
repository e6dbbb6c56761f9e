import type { Logger } from '../logger.js';

/** Options of {@link startDeadlineSweep}. */
export interface DeadlineSweepOptions {
  /** How often due deadlines are looked for. @defaultValue 1000 */
  intervalMs?: number;
  logger: Logger;
}

/** A running sweep; `close()` stops it after the round in hand. Idempotent. */
export interface DeadlineSweep {
  close(): Promise<void>;
}

/**
 * Runs `sweep` every `intervalMs` (with jitter, so several processes spread out) until closed.
 * A failed round (Redis away) is logged and the next one tries again: deadlines are late, not
 * lost, because they live in Redis, not in this timer.
 */
export function startDeadlineSweep(sweep: { sweepDeadlines(): Promise<number> }, options: DeadlineSweepOptions): DeadlineSweep {
  const intervalMs = options.intervalMs ?? 1000;
  const log = options.logger.child({ role: 'external-deadlines' });
  let running = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let round: Promise<void> = Promise.resolve();
  let failures = 0;

  const schedule = () => {
    if (!running) return;
    timer = setTimeout(
      () => {
        round = sweep
          .sweepDeadlines()
          .then(
            () => void (failures = 0),
            (error: unknown) => {
              // One line per outage, not one per second.
              if (failures++ === 0) log.warn({ err: error }, 'external job deadlines could not be checked; retrying');
            },
          )
          .finally(schedule);
      },
      intervalMs * (0.75 + Math.random() / 2),
    );
    timer.unref();
  };
  schedule();

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        running = false;
        clearTimeout(timer);
        await round;
      })();
      return closing;
    },
  };
}
