import { createJobcast, type Jobcast } from '../../server/index.js';
import { createLogger } from '../../server/logger.js';
import { type RoleProcess, startRole } from './processes.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from './redis.js';
import { countJob, echoJob, failFirstRunJob, flakyJob, patientRetryJob } from './test-jobs.js';

export const CLUSTER_SECRET = 'cluster-test-secret-0123456789';

/** Environment for jobcast child processes running the test jobs and no demo. */
export function roleEnv(redisUrl: string, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    JOBCAST_PREFIX: prefix,
    JOBCAST_SECRET: CLUSTER_SECRET,
    JOBCAST_DEMO: '0',
    JOBCAST_JOBS: 'test/helpers/test-jobs.ts',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** A test process's own jobcast (no worker, no gateway) to start jobs and mint tokens. */
export function controller(redisUrl: string, prefix: string, clusterNodes?: string[]): Jobcast {
  return createJobcast({
    redisUrl,
    ...(clusterNodes ? { clusterNodes } : {}),
    secret: CLUSTER_SECRET,
    keyPrefix: prefix,
    jobs: [countJob, flakyJob, patientRetryJob, failFirstRunJob, echoJob],
    logger: createLogger('silent'),
  });
}

/** Gateways and workers as child processes on one Redis, with cleanup. */
export class ProcessCluster {
  readonly processes: RoleProcess[] = [];
  readonly prefix = uniquePrefix('cluster');
  redisUrl = '';
  jobcast!: Jobcast;

  clusterNodes: string[] | undefined;

  async start(options: {
    gateways: number;
    workers: number;
    redisUrl?: string;
    clusterNodes?: string[];
    env?: Record<string, string>;
  }): Promise<{ gateways: RoleProcess[]; workers: RoleProcess[] }> {
    this.clusterNodes = options.clusterNodes;
    this.redisUrl = options.clusterNodes ? '' : (options.redisUrl ?? (await testRedisUrl()));
    this.jobcast = controller(this.redisUrl, this.prefix, options.clusterNodes);
    const env = this.#env(options.env);
    const gateways = await Promise.all(Array.from({ length: options.gateways }, () => startRole('gateway', env)));
    const workers = await Promise.all(Array.from({ length: options.workers }, () => startRole('worker', env)));
    this.processes.push(...gateways, ...workers);
    return { gateways, workers };
  }

  async startRole(role: string, extra: Record<string, string> = {}): Promise<RoleProcess> {
    const p = await startRole(role, this.#env(extra));
    this.processes.push(p);
    return p;
  }

  /** Stops every process (SIGTERM) and returns their exit codes; deletes the test's keys. */
  async stop(): Promise<(number | null)[]> {
    const codes = await Promise.all(this.processes.map((p) => p.stop('SIGTERM')));
    await this.jobcast?.close();
    // A cluster the test made is thrown away whole; on the shared Redis, delete our keys.
    if (!this.clusterNodes) await deleteKeys(this.redisUrl, this.prefix).catch(() => {});
    return codes;
  }

  #env(extra: Record<string, string> = {}): Record<string, string> {
    return roleEnv(this.redisUrl, this.prefix, { ...(this.clusterNodes ? { REDIS_CLUSTER_NODES: this.clusterNodes.join(',') } : {}), ...extra });
  }
}

/** Port of a `http://host:port` URL. */
export const portOf = (url: string) => Number(new URL(url).port);
