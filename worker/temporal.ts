/**
 * The worker's native connection to Temporal, with the SDK runtime (and its log level) installed
 * first. Connection settings are the client's (client/connection.ts).
 */
import { IllegalStateError } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { connectionSettings } from '../client/connection';
import type { Env } from '../config/env';
import { temporalLogger, type Logger } from '../config/logger';

let runtimeInstalled = false;

/**
 * The SDK's runtime must be configured before the first native connection creates a default one.
 * Its logger is ours: the worker's, activities' and workflows' records, and Core's (forwarded from
 * the native side: Core's warnings, other crates' errors), all reach the process's pino logger.
 */
function installRuntime(logger: Logger, metricsAddress: string | undefined): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({
      logger: temporalLogger(logger.child({ component: 'temporal' })),
      telemetryOptions: {
        logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
        ...(metricsAddress ? { metrics: workerMetricsExporter(metricsAddress) } : {}),
      },
    });
    if (metricsAddress) logger.info(`Worker metrics (Temporal runtime) on http://${metricsAddress}/metrics`);
  } catch (err) {
    // A runtime was installed earlier in this process (tests); keep it. Anything else (the metrics
    // address taken) stops the start with its reason.
    if (!(err instanceof IllegalStateError)) {
      throw new Error(`the Temporal runtime did not start: ${(err as Error).message}`, { cause: err });
    }
  }
}

/**
 * The Temporal runtime's own Prometheus exporter (FIREBREAK_WORKER_METRICS_ADDRESS): `temporal_*`
 * series of the worker — slots, polls, task latencies, sticky cache — in seconds and with
 * `_total` on counters, as Prometheus names them.
 */
export function workerMetricsExporter(bindAddress: string) {
  return {
    prometheus: { bindAddress, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true },
  };
}

export async function connectWorker(env: Env, address: string, logger: Logger): Promise<NativeConnection> {
  installRuntime(logger, env.FIREBREAK_WORKER_METRICS_ADDRESS);
  return NativeConnection.connect(await connectionSettings(env, address));
}

/** `firebreak replay` runs the replayer in the CLI: only Core's errors reach the terminal, not its warnings. */
export function installReplayRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
    });
  } catch {
    // A runtime was installed earlier in this process (tests); keep it.
  }
}
