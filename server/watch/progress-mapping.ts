import type { ProgressEvent } from '../../shared/protocol.js';

const PCT_FIELDS = ['pct', 'percentage', 'progress'] as const;

/**
 * What a BullMQ worker passed to `job.updateProgress(…)`, as jobcast's progress event:
 * - a number is a percentage (clamped to 0–100);
 * - an object's `pct`, `percentage` or `progress` (the first that is a number) is the
 *   percentage, its `stage` and `message` strings are the stage and message, and its other
 *   fields travel as `data`;
 * - anything else (a string, a boolean, an array) travels as `data`, with no percentage.
 *
 * @example
 * ```ts
 * progressFromBullmq(40);                                      // { pct: 40 }
 * progressFromBullmq({ percentage: 40, stage: 'Sending', sent: 4 }); // { pct: 40, stage: 'Sending', data: { sent: 4 } }
 * ```
 */
export function progressFromBullmq(value: unknown): ProgressEvent {
  if (typeof value === 'number') return { pct: clampPct(value) };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { pct: null, ...(value === undefined ? {} : { data: value }) };
  const fields = { ...(value as Record<string, unknown>) };
  let pct: number | null = null;
  for (const name of PCT_FIELDS) {
    const candidate = fields[name];
    if (typeof candidate === 'number' && pct === null) {
      pct = clampPct(candidate);
      delete fields[name];
    }
  }
  const event: ProgressEvent = { pct };
  if (typeof fields.stage === 'string') {
    event.stage = fields.stage.slice(0, 200);
    delete fields.stage;
  }
  if (typeof fields.message === 'string') {
    event.message = fields.message.slice(0, 1000);
    delete fields.message;
  }
  if (Object.keys(fields).length) event.data = fields;
  return event;
}

/** The progress event of a BullMQ `progress` stream entry's `data` (the JSON of what the worker passed). */
export function progressFromStream(raw: string | undefined): ProgressEvent {
  let value: unknown = raw;
  try {
    value = raw === undefined ? null : JSON.parse(raw);
  } catch {
    // BullMQ stores progress as JSON; keep anything else as the string it is
  }
  return progressFromBullmq(value);
}

/** A percentage within 0–100; `null` for NaN and infinities, which say nothing. */
function clampPct(value: number): number | null {
  return Number.isFinite(value) ? Math.max(0, Math.min(100, value)) : null;
}
