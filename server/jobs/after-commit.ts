import type { StartedJob } from '../../shared/protocol.js';
import { invalidInputFrom, JobcastError } from '../errors.js';
import type { AnyJobDefinition, JobDefinition } from './define-job.js';
import type { StartOptions } from './start-job.js';

/** What {@link AfterCommit} needs of a jobcast instance. */
interface Starter {
  start(job: AnyJobDefinition | string, input: unknown, options?: StartOptions): Promise<StartedJob>;
  queues: { definition(name: string): JobDefinition<unknown, unknown> };
}

interface Pending {
  job: AnyJobDefinition | string;
  input: unknown;
  options: StartOptions;
  resolve: (started: StartedJob) => void;
  reject: (error: unknown) => void;
}

/**
 * Starts jobs only once the caller's database transaction has committed, so a job never runs
 * before the rows it reads exist (and never runs for a transaction that rolled back). Works
 * with any database: call {@link commit} after your COMMIT, {@link discard} after a ROLLBACK.
 *
 * @example
 * ```ts
 * const after = jobcast.afterCommit();
 * await db.query('BEGIN');
 * const { rows } = await db.query('INSERT INTO reports (account) VALUES ($1) RETURNING id', [account]);
 * const started = after.start(buildReport, { reportId: rows[0].id }); // validated now, queued later
 * await db.query('COMMIT');
 * await after.commit();
 * res.send(renderJobElement(await started));
 * ```
 */
export class AfterCommit {
  readonly #jobcast: Starter;
  #pending: Pending[] = [];
  #settled = false;

  constructor(jobcast: Starter) {
    this.#jobcast = jobcast;
  }

  /**
   * Validates the input now (a bad input throws inside your transaction, so you can roll back)
   * and starts the job at {@link commit}. Resolves with the started job after the commit.
   */
  start(job: AnyJobDefinition | string, input: unknown, options: StartOptions = {}): Promise<StartedJob> {
    if (this.#settled) throw new JobcastError('jobcast:conflict', 'this afterCommit() was already committed or discarded; make a new one per transaction');
    const definition = this.#jobcast.queues.definition(typeof job === 'string' ? job : job.name);
    let parsed;
    try {
      parsed = definition.input.safeParse(input);
    } catch {
      parsed = null; // an asynchronous schema: it is checked again, fully, at commit
    }
    if (parsed && !parsed.success) throw invalidInputFrom(parsed.error.issues);
    return new Promise((resolve, reject) => this.#pending.push({ job, input, options, resolve, reject }));
  }

  /** The transaction committed: starts every deferred job, in order. */
  async commit(): Promise<StartedJob[]> {
    this.#settled = true;
    const pending = this.#pending;
    this.#pending = [];
    const started: StartedJob[] = [];
    for (const p of pending) {
      try {
        const s = await this.#jobcast.start(p.job, p.input, p.options);
        started.push(s);
        p.resolve(s);
      } catch (error) {
        p.reject(error);
      }
    }
    return started;
  }

  /** The transaction rolled back: no deferred job starts; their promises reject. */
  discard(reason = 'the transaction rolled back'): void {
    this.#settled = true;
    for (const p of this.#pending) p.reject(new JobcastError('jobcast:conflict', `job not started: ${reason}`));
    this.#pending = [];
  }
}
