/**
 * Pins a process (all its threads, and those it starts later) to some of the machine's cores,
 * with util-linux's `taskset`. The watched-queue rows use it to give the BullMQ workers and
 * their Redis one core and the watcher with jobcast's Redis another, as separate machines
 * would. Returns false, changing nothing, where it cannot pin (no taskset, or one core).
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';

export function canPin(): boolean {
  // The machine's cores, not this process's: a pinned process may still pin its children elsewhere.
  return os.cpus().length >= 2 && spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** `cpus` as taskset takes them (`0`, `1`, `0-1`). */
export function pin(pid: number | null | undefined, cpus: string): boolean {
  if (!pid || !canPin()) return false;
  return spawnSync('taskset', ['--all-tasks', '--cpu-list', '--pid', cpus, String(pid)], { stdio: 'ignore' }).status === 0;
}
