/**
 * The worker's native connection to Temporal, with the SDK runtime (and its log level) installed
 * first. Connection settings are the client's (client/connection.ts).
 */
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
function installRuntime(logger: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({
      logger: temporalLogger(logger.child({ component: 'temporal' })),
      telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} } },
    });
  } catch {
    // A runtime was installed earlier in this process (tests); keep it.
  }
}

export async function connectWorker(env: Env, address: string, logger: Logger): Promise<NativeConnection> {
  installRuntime(logger);
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
