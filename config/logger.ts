/**
 * The one structured logger of a Firebreak process: pino, JSON lines on stderr (stdout is kept for
 * what CLI commands print), at FIREBREAK_LOG_LEVEL. Fastify logs through it, the Temporal runtime
 * is bridged into it (`temporalLogger`), and modules that take a line callback (so tests can
 * collect lines) get one writing into it (`lineLog`).
 *
 * Node-side only: workflow code logs with `log` from @temporalio/workflow, which reaches this
 * logger through the runtime bridge.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel as TemporalLogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';

import { LOG_LEVELS, type LogLevel } from './env';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: LogLevel;
  /** Where the JSON lines go; stderr (synchronously, so nothing is lost on exit) by default. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? levelFromEnvironment(),
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names, not numbers: what a person greps for and what log pipelines map without a table.
      formatters: { level: (label) => ({ level: label }) },
      // The Temporal SDK and our own call sites attach failures as `error` as well as pino's `err`.
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    },
    options.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

let shared: Logger | undefined;

/** The process's logger, for code that was not handed one. */
export function processLogger(): Logger {
  shared ??= createLogger();
  return shared;
}

/**
 * FIREBREAK_LOG_LEVEL as config/env.ts validates it; entry points parse the environment first and
 * exit 2 on a bad value, so the fallback only serves code running before or without that check.
 */
function levelFromEnvironment(): LogLevel {
  const level = process.env.FIREBREAK_LOG_LEVEL;
  return (LOG_LEVELS as readonly string[]).includes(level ?? '') ? (level as LogLevel) : 'info';
}

/** What `lineLog` needs: a pino logger, or Fastify's view of one (`app.log`). */
interface ChildLogging {
  child(bindings: Record<string, unknown>): Pick<Logger, 'info' | 'warn'>;
}

/** A line callback that writes each line as a record of `logger`, tagged with its component. */
export function lineLog(
  logger: ChildLogging,
  component: string,
  level: 'info' | 'warn' = 'info',
): (message: string, fields?: Record<string, unknown>) => void {
  const child = logger.child({ component });
  return (message, fields) => child[level](fields ?? {}, message);
}

const TEMPORAL_LEVELS = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/**
 * Temporal's runtime `Logger` writing into pino: the worker's, the activities' and the workflows'
 * (`log` from @temporalio/workflow) records, and Core's when they are forwarded.
 */
export function temporalLogger(logger: Logger): TemporalLogger {
  const write = (level: TemporalLogLevel, message: string, meta?: LogMetadata) =>
    logger[TEMPORAL_LEVELS[level]]({ ...meta }, message);
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}
