/** "8 s", "2 min", "1 h 5 min": short, for a person glancing at a progress bar. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

/**
 * Estimates the time left from the progress rate since the first report; `null` until there
 * is enough to go on (5 % done and 2 s observed), so the estimate does not jump about.
 */
export class EtaEstimator {
  #first: { at: number; pct: number } | null = null;

  /** Records a report and returns the estimate in ms, or `null`. */
  update(pct: number, now = Date.now()): number | null {
    if (!this.#first) {
      this.#first = { at: now, pct };
      return null;
    }
    const elapsed = now - this.#first.at;
    const done = pct - this.#first.pct;
    if (pct < 5 || elapsed < 2000 || done <= 0) return null;
    return ((100 - pct) / done) * elapsed;
  }

  reset(): void {
    this.#first = null;
  }
}
