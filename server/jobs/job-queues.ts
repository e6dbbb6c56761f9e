import { Queue } from 'bullmq';

import { NotFoundError } from '../errors.js';
import type { RedisClient } from '../redis/connect.js';
import { type AnyJobDefinition, type JobDefinition, queuePrefix } from './define-job.js';

/** The registered job types and one BullMQ queue each, created on first use. */
export class JobQueues {
  readonly #definitions = new Map<string, AnyJobDefinition>();
  readonly #queues = new Map<string, Queue>();
  readonly #connection: RedisClient;
  readonly #keyPrefix: string;
  #closing: Promise<void> | undefined;

  constructor(connection: RedisClient, keyPrefix: string, definitions: readonly AnyJobDefinition[]) {
    this.#connection = connection;
    this.#keyPrefix = keyPrefix;
    for (const definition of definitions) this.register(definition);
  }

  register(definition: AnyJobDefinition): void {
    const existing = this.#definitions.get(definition.name);
    if (existing && existing !== definition) throw new Error(`job ${definition.name} is defined twice`);
    this.#definitions.set(definition.name, definition);
  }

  get definitions(): AnyJobDefinition[] {
    return [...this.#definitions.values()];
  }

  /** The definition named `name`; throws a 404 error for an unknown job type. */
  definition(name: string): JobDefinition<unknown, unknown> {
    const definition = this.#definitions.get(name);
    if (!definition) throw new NotFoundError(`no job type named ${JSON.stringify(name).slice(0, 80)}`);
    return definition;
  }

  queue(name: string): Queue {
    this.definition(name);
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.#connection, prefix: queuePrefix(this.#keyPrefix, name) });
      this.#queues.set(name, queue);
    }
    return queue;
  }

  /** Finds a job by id across every job type, or `null`. */
  async find(jobId: string) {
    const found = await Promise.all(this.definitions.map((d) => this.queue(d.name).getJob(jobId)));
    return found.find((job) => job !== undefined) ?? null;
  }

  close(): Promise<void> {
    this.#closing ??= Promise.allSettled([...this.#queues.values()].map((q) => q.close())).then(() => undefined);
    return this.#closing;
  }
}
