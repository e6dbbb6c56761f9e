import type { ChildProcess } from 'node:child_process';

/**
 * Resolves with what `ready` resolves to (a child process said it is up); when `ready` rejects
 * (it exited first) or `timeoutMs` passes, SIGKILLs `child` and throws, so no test leaves a
 * half-started process behind.
 */
export async function readyOrKill<T>(child: ChildProcess, ready: Promise<T>, timeoutMs: number, timedOut: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(timedOut())), timeoutMs)));
  try {
    return await Promise.race([ready, timeout]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
