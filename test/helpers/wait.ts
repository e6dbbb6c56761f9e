/** Resolves when `condition()` is truthy; rejects after `timeoutMs` with `what` in the message. */
export async function waitFor<T>(condition: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A promise with its resolve function, for events. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The name of the marker event {@link flushChannel} publishes; tests leave it out of what they compare. */
export const FLUSH_EVENT = 'test-flush';

/**
 * Publishes a marker event on `channel` and resolves once `seen()` holds it. A channel is
 * ordered, so every event published before the marker has then reached this subscriber: a test
 * can assert that nothing else arrived (a second outcome, progress after it) without sleeping.
 */
export async function flushChannel(
  publisher: { trigger(channel: string, event: string, data: unknown): Promise<{ offset: number }> },
  channel: string,
  seen: () => readonly { event: string; offset?: number }[],
  timeoutMs = 10_000,
): Promise<void> {
  const marker = await publisher.trigger(channel, FLUSH_EVENT, {});
  await waitFor(
    () => seen().some((e) => e.event === FLUSH_EVENT && (e.offset === undefined || e.offset === marker.offset)),
    `the flush marker on ${channel}`,
    timeoutMs,
  );
}

/** `promise`, or a rejection naming `what` after `timeoutMs`: an event that never comes fails the test instead of hanging it. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
