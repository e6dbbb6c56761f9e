import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Runs `git -C cwd …args` without a shell; resolves with stdout, rejects with git's stderr. */
export function git(cwd: string, args: string[], signal?: AbortSignal): Promise<string> {
  let out = '';
  return streamGit(cwd, args, (line) => void (out += line + '\n'), signal).then(() => out);
}

/**
 * Runs git and hands each stdout line to `onLine` as it arrives, so a long history is parsed
 * while git is still writing it. Aborting kills git.
 */
export function streamGit(cwd: string, args: string[], onLine: (line: string) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const child = spawn('git', ['-C', cwd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], signal });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    lines.on('line', onLine);
    child.once('error', (error) => reject(signal?.aborted ? signal.reason : error));
    child.once('close', (code) => {
      if (signal?.aborted) return reject(signal.reason);
      if (code === 0) resolve();
      else reject(new Error(`git ${args[0]} failed: ${stderr.trim().split('\n')[0] || `exit code ${code}`}`));
    });
  });
}

/** True when `path` is a git work tree with at least one commit. */
export async function isGitRepository(path: string): Promise<boolean> {
  try {
    await git(path, ['rev-parse', '--verify', '--quiet', 'HEAD']);
    return true;
  } catch {
    return false;
  }
}

/** Resolves after `ms`, or rejects at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
