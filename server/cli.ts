#!/usr/bin/env node
import { parseArgs } from 'node:util';

import { configFromEnv } from './config.js';
import { JobcastError } from './errors.js';
import { createLogger } from './logger.js';
import { type EmbeddedRedis, NoRedisError, resolveRedis } from './redis/embedded-redis.js';
import { type Role, ROLES, type RunningRole, startRole } from './roles.js';

const USAGE = `Usage:
  jobcast [all|web|worker|gateway|watch]  run a process role (default: all, every role on one port;
                                          watch: only publish the queues in JOBCAST_WATCH_QUEUES)
  jobcast status <jobId>                  print a job's status as JSON
  jobcast cancel <jobId>                  cancel a job (removed if waiting, aborted if running)
  jobcast trigger <channel> <event> <json>  publish a custom event

Environment: PORT, REDIS_URL (or REDIS_CLUSTER_NODES, REDIS_SENTINELS), JOBCAST_SECRET, JOBCAST_GATEWAY_URL, LOG_LEVEL (see README).`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [command = 'all', ...rest] = positionals;
  const config = configFromEnv();
  const logger = createLogger(config.logLevel);

  let embedded: EmbeddedRedis | null;
  let redisUrl: string;
  try {
    // A cluster or a Sentinel set is named by its nodes; the single-Redis rules (probe, private server) do not apply.
    ({ url: redisUrl, embedded } =
      config.clusterNodes.length || config.sentinel ? { url: '', embedded: null } : await resolveRedis(config.redisUrl, config.probePort));
  } catch (error) {
    if (error instanceof NoRedisError) {
      console.error(`jobcast: ${error.message}`);
      return 1;
    }
    throw error;
  }
  if (embedded) logger.info({ port: embedded.port }, `no Redis on 127.0.0.1:${config.probePort} and REDIS_URL unset: started a private redis-server`);

  if ((ROLES as readonly string[]).includes(command)) {
    const running = await startRole(command as Role, config, redisUrl, logger);
    if (running.url)
      logger.info(
        { role: command, url: running.url },
        command === 'gateway' ? `gateway listening on ${running.url}` : `jobcast ${command}: open ${running.url}`,
      );
    else logger.info({ role: command }, `jobcast ${command} running`);
    return waitForSignals(running, embedded, logger);
  }

  // One-shot commands run as a short-lived web role without listening.
  const running = await startRole('web', { ...config, port: 0, host: '127.0.0.1' }, redisUrl, createLogger('warn'));
  try {
    if (command === 'status' && rest.length === 1) {
      const status = await running.jobcast.status(rest[0]!);
      const timeline = await running.jobcast.timeline.read(rest[0]!, running.jobcast.store);
      console.log(
        `${status.name} ${status.jobId}: ${status.state}${status.progress?.pct != null ? ` (${status.progress.pct}%)` : ''}, attempt ${status.attemptsMade} of ${status.attempts}${status.error ? `, error: ${status.error}` : ''}`,
      );
      for (const entry of timeline) {
        console.log(`${new Date(entry.at).toISOString()}  ${entry.what.padEnd(16)} ${describeEntry(entry.detail)}`);
      }
      return 0;
    }
    if (command === 'cancel' && rest.length === 1) {
      console.log(JSON.stringify(await running.jobcast.cancel(rest[0]!, 'cancelled from the command line')));
      return 0;
    }
    if (command === 'trigger' && rest.length === 3) {
      let data: unknown;
      try {
        data = JSON.parse(rest[2]!);
      } catch {
        console.error('jobcast trigger: <json> is not valid JSON');
        return 2;
      }
      const event = await running.jobcast.trigger(rest[0]!, rest[1]!, data);
      console.log(JSON.stringify({ channel: event.channel, event: event.event, epoch: event.epoch, offset: event.offset }));
      return 0;
    }
    console.error(USAGE);
    return 2;
  } catch (error) {
    if (error instanceof JobcastError) {
      console.error(`jobcast ${command}: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    await running.close();
    await embedded?.stop();
  }
}

/** One line of a timeline entry's detail, for people. */
function describeEntry(detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ')
    .slice(0, 200);
}

/** First SIGTERM/SIGINT: close gracefully, exit 0. A second one: exit at once. */
function waitForSignals(running: RunningRole, embedded: EmbeddedRedis | null, logger: ReturnType<typeof createLogger>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    // A recycling worker exits 0 once its jobs are done, for its supervisor to start a fresh one.
    running.onRecycle((reason) => {
      if (stopping) return;
      stopping = true;
      logger.info({ reason }, 'recycled: exiting so a fresh process takes over');
      void running
        .close()
        .then(() => embedded?.stop())
        .then(
          () => resolve(0),
          () => resolve(1),
        );
    });
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      running
        .close()
        .then(() => embedded?.stop())
        .then(
          () => resolve(0),
          (error: unknown) => {
            logger.error({ err: error }, 'error during shutdown');
            resolve(1);
          },
        );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`jobcast: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
