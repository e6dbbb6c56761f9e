import { createRequire } from 'node:module';

import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * The process logger: JSON lines in production; pretty lines when a person is watching a
 * terminal and pino-pretty is installed (a dev dependency, so never in production installs).
 */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  const pretty = process.stdout.isTTY && process.env.NODE_ENV !== 'production' && hasPinoPretty();
  return pino({
    level,
    base: { pid: process.pid },
    // Tokens and secrets must never reach a log line, whatever a caller passes.
    redact: { paths: ['token', '*.token', 'secret', '*.secret', 'req.headers.authorization'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  });
}

function hasPinoPretty(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}
