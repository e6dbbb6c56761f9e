import { basename } from 'node:path';

import { git, isGitRepository, sleep, streamGit } from './git.js';

export { isGitRepository };

/** One progress report of the analysis. */
export interface AnalysisProgress {
  pct: number;
  stage: string;
  message?: string;
}

/** Options of {@link analyseRepository}. */
export interface AnalyseOptions {
  signal?: AbortSignal;
  onProgress?: (progress: AnalysisProgress) => void | Promise<void>;
  /**
   * Demo pacing: the least total time in ms, spread over the work by percentage, so a person
   * can watch a small repository's analysis. The analysis itself is real either way. @defaultValue 0
   */
  paceMs?: number;
  /** Files whose ownership is computed with git blame. @defaultValue 40 */
  maxBlameFiles?: number;
}

export interface AuthorStats {
  name: string;
  email: string;
  commits: number;
  added: number;
  deleted: number;
  firstAt: string;
  lastAt: string;
}

/** What the analysis found. */
export interface HistoryReport {
  repo: string;
  head: string;
  commitCount: number;
  firstCommitAt: string | null;
  lastCommitAt: string | null;
  /** By commits, most first. */
  authors: AuthorStats[];
  /** Commits per day (span up to 60 days) or per month, oldest first, gaps filled with 0. */
  activity: { period: string; commits: number }[];
  /** The 15 files with the most lines added and deleted. */
  churn: { path: string; changes: number; added: number; deleted: number }[];
  /** Who wrote most of the lines at HEAD of the most changed files (git blame). */
  ownership: { path: string; lines: number; topAuthor: string; share: number }[];
  generatedAt: string;
  durationMs: number;
}

interface Commit {
  name: string;
  email: string;
  at: string;
  files: { path: string; added: number; deleted: number }[];
}

const RECORD = '\x1e';
const FIELD = '\x1f';

/**
 * Analyses the history of the git repository at `path` in stages, reporting real progress:
 * counting, reading commits with their line changes, aggregating, and blaming the most
 * changed files for ownership.
 */
export async function analyseRepository(path: string, options: AnalyseOptions = {}): Promise<HistoryReport> {
  const { signal } = options;
  const started = Date.now();
  const paceMs = options.paceMs ?? 0;
  const report = async (pct: number, stage: string, message?: string) => {
    // Pacing: never be further along than the share of the demo time that has passed.
    const due = started + (paceMs * pct) / 100 - Date.now();
    if (due > 0) await sleep(due, signal);
    signal?.throwIfAborted();
    await options.onProgress?.({ pct: Math.round(pct * 10) / 10, stage, ...(message ? { message } : {}) });
  };

  if (!(await isGitRepository(path))) throw new Error(`not a git repository (or no commits yet): ${path}`);
  await report(1, 'Counting commits');
  const total = Number((await git(path, ['rev-list', '--count', 'HEAD'], signal)).trim());
  const head = (await git(path, ['rev-parse', '--short', 'HEAD'], signal)).trim();

  await report(5, 'Reading commits', `0 of ${total}`);
  const commits = await readCommits(path, total, report, signal);

  await report(60, 'Aggregating authors and activity', `${commits.length} commits`);
  const authors = aggregateAuthors(commits);
  const activity = bucketActivity(commits);
  const churn = aggregateChurn(commits);

  const tracked = new Set((await git(path, ['ls-files'], signal)).split('\n').filter(Boolean));
  const toBlame = churn
    .map((c) => c.path)
    .filter((p) => tracked.has(p))
    .slice(0, options.maxBlameFiles ?? 40);
  const ownership: HistoryReport['ownership'] = [];
  for (const [i, file] of toBlame.entries()) {
    await report(65 + (33 * i) / Math.max(1, toBlame.length), 'Computing ownership', `${i + 1} of ${toBlame.length}: ${file}`);
    const owners = await blame(path, file, signal);
    const lines = [...owners.values()].reduce((a, b) => a + b, 0);
    const [topAuthor, topLines] = [...owners.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['nobody', 0];
    if (lines > 0) ownership.push({ path: file, lines, topAuthor, share: topLines / lines });
  }

  await report(99, 'Rendering');
  const dates = commits.map((c) => c.at).sort();
  return {
    repo: basename(path),
    head,
    commitCount: commits.length,
    firstCommitAt: dates[0] ?? null,
    lastCommitAt: dates.at(-1) ?? null,
    authors,
    activity,
    churn,
    ownership,
    generatedAt: new Date().toISOString(),
    durationMs: Date.now() - started,
  };
}

async function readCommits(
  path: string,
  total: number,
  report: (pct: number, stage: string, message?: string) => Promise<void>,
  signal?: AbortSignal,
): Promise<Commit[]> {
  const commits: Commit[] = [];
  // Progress is reported between reads, never inside the line handler: it may pause (pacing).
  const lines: string[] = [];
  await streamGit(path, ['log', '--no-renames', '--numstat', `--format=${RECORD}%an${FIELD}%ae${FIELD}%aI`, 'HEAD'], (line) => void lines.push(line), signal);
  const every = Math.max(1, Math.floor(total / 40));
  for (const line of lines) {
    if (line.startsWith(RECORD)) {
      const [name = '', email = '', at = ''] = line.slice(1).split(FIELD);
      commits.push({ name, email, at, files: [] });
      if (commits.length % every === 0) await report(5 + (55 * commits.length) / Math.max(1, total), 'Reading commits', `${commits.length} of ${total}`);
    } else if (line) {
      const [added = '', deleted = '', ...rest] = line.split('\t');
      // Binary files show "-" for both counts: they changed, with no lines to count.
      commits.at(-1)?.files.push({ path: rest.join('\t'), added: Number(added) || 0, deleted: Number(deleted) || 0 });
    }
  }
  return commits;
}

function aggregateAuthors(commits: Commit[]): AuthorStats[] {
  const byEmail = new Map<string, AuthorStats>();
  for (const c of commits) {
    const key = c.email.toLowerCase() || c.name;
    const a = byEmail.get(key) ?? { name: c.name, email: c.email, commits: 0, added: 0, deleted: 0, firstAt: c.at, lastAt: c.at };
    a.commits += 1;
    for (const f of c.files) {
      a.added += f.added;
      a.deleted += f.deleted;
    }
    if (c.at < a.firstAt) a.firstAt = c.at;
    if (c.at > a.lastAt) a.lastAt = c.at;
    byEmail.set(key, a);
  }
  return [...byEmail.values()].sort((a, b) => b.commits - a.commits || a.name.localeCompare(b.name));
}

/** Day buckets when the history spans up to 60 days, else month buckets; gaps filled with 0. */
export function bucketActivity(commits: { at: string }[]): HistoryReport['activity'] {
  if (commits.length === 0) return [];
  const days = commits.map((c) => new Date(c.at).toISOString().slice(0, 10)).sort();
  const first = new Date(days[0]!);
  const last = new Date(days.at(-1)!);
  const spanDays = Math.round((last.getTime() - first.getTime()) / 86_400_000) + 1;
  const byDay = spanDays <= 60;
  const counts = new Map<string, number>();
  for (const d of days) {
    const key = byDay ? d : d.slice(0, 7);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const out: HistoryReport['activity'] = [];
  const cursor = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), byDay ? first.getUTCDate() : 1));
  while (cursor <= last) {
    const key = byDay ? cursor.toISOString().slice(0, 10) : cursor.toISOString().slice(0, 7);
    out.push({ period: key, commits: counts.get(key) ?? 0 });
    if (byDay) cursor.setUTCDate(cursor.getUTCDate() + 1);
    else cursor.setUTCMonth(cursor.getUTCMonth() + 1);
  }
  return out;
}

function aggregateChurn(commits: Commit[]): HistoryReport['churn'] {
  const files = new Map<string, { path: string; changes: number; added: number; deleted: number }>();
  for (const c of commits) {
    for (const f of c.files) {
      const entry = files.get(f.path) ?? { path: f.path, changes: 0, added: 0, deleted: 0 };
      entry.changes += 1;
      entry.added += f.added;
      entry.deleted += f.deleted;
      files.set(f.path, entry);
    }
  }
  return [...files.values()].sort((a, b) => b.added + b.deleted - (a.added + a.deleted) || a.path.localeCompare(b.path)).slice(0, 15);
}

async function blame(path: string, file: string, signal?: AbortSignal): Promise<Map<string, number>> {
  const owners = new Map<string, number>();
  await streamGit(
    path,
    ['blame', '--line-porcelain', 'HEAD', '--', file],
    (line) => {
      if (line.startsWith('author ')) {
        const name = line.slice(7);
        owners.set(name, (owners.get(name) ?? 0) + 1);
      }
    },
    signal,
  );
  return owners;
}
