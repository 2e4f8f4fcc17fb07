/**
 * Helpers for tests that run workflows on the shared dev server: a client, the workflow bundle
 * (built once per run by test/run.ts, or once per file when a file runs alone), and a worker on a
 * task queue of the test's own.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';

import { WORKFLOW_INTERCEPTOR_MODULES } from '../../worker/bundle';
import { createSinks } from '../../worker/sinks';
import { describeTaskQueue, settledWithin } from './diagnose';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

export function testTemporalAddress(): string {
  const address = process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS;
  if (!address) {
    throw new Error('FIREBREAK_TEST_TEMPORAL_ADDRESS is not set: run tests through `npm test` (test/run.ts)');
  }
  return address;
}

export const testNamespace = (): string => process.env.FIREBREAK_TEST_TEMPORAL_NAMESPACE ?? 'default';

let runtimeInstalled = false;
/** Keeps worker logs quiet unless a test fails loudly; warnings still show. */
export function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by an earlier import in this process.
  }
}

export async function connectTestClient(): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: testTemporalAddress() });
  return { client: new Client({ connection, namespace: testNamespace() }), connection };
}

let bundlePromise: Promise<{ code: string }> | undefined;
/** The real workflows bundled once per process (or taken from the run's prebuilt bundle). */
export function bundleWorkflowsOnce(): Promise<{ code: string }> {
  bundlePromise ??= (async () => {
    const prebuilt = process.env.FIREBREAK_TEST_WORKFLOW_BUNDLE;
    if (prebuilt) {
      const { readFile } = await import('node:fs/promises');
      return { code: await readFile(prebuilt, 'utf8') };
    }
    return bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
      logger: new DefaultLogger('WARN'),
    });
  })();
  return bundlePromise;
}

export function uniqueTaskQueue(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface TestWorker {
  worker: Worker;
  taskQueue: string;
  /**
   * Shuts the worker down and waits for it to finish, within STOP_DEADLINE_MS: a worker still
   * draining then is stuck on an activity that ignores its cancellation, and the stop fails naming
   * what is in flight (the worker's counts and the task queue's open workflows) instead of hanging.
   */
  stop(): Promise<void>;
}

/**
 * Test workers cancel in-flight activities the moment they shut down (shutdownGraceTime 0), and a
 * workflow task takes milliseconds, so a stop that takes this long never ends by itself.
 */
const STOP_DEADLINE_MS = 20_000;
/** After the report, the worker gives up on its stuck tasks so the test file's process can exit. */
const FORCE_AFTER_MS = STOP_DEADLINE_MS + 10_000;

/**
 * Starts a worker with the given activities on its own task queue. Pass `workflowsPath` for
 * test-only workflows; otherwise the real workflow bundle is used. `address`/`namespace` point it
 * at another cluster than the bed's dev server (the PostgreSQL-backed one, say).
 */
export async function runTestWorker(
  options: {
    activities: object;
    taskQueue?: string;
    workflowsPath?: string;
    address?: string;
    namespace?: string;
    /** For a cluster whose frontend serves (m)TLS. */
    tls?: { serverRootCACertificate: Buffer; clientCertPair?: { crt: Buffer; key: Buffer } };
  } & Partial<
    Pick<
      WorkerOptions,
      | 'maxConcurrentActivityTaskExecutions'
      | 'maxConcurrentWorkflowTaskExecutions'
      | 'maxCachedWorkflows'
      | 'interceptors'
      | 'stickyQueueScheduleToStartTimeout'
      | 'sinks'
    >
  >,
): Promise<TestWorker> {
  installQuietRuntime();
  const connection = await NativeConnection.connect({
    address: options.address ?? testTemporalAddress(),
    ...(options.tls ? { tls: options.tls } : {}),
  });
  const taskQueue = options.taskQueue ?? uniqueTaskQueue('test');
  const { activities, workflowsPath, taskQueue: _ignored, address: _address, namespace, tls: _tls, ...rest } = options;
  const worker = await Worker.create({
    connection,
    namespace: namespace ?? testNamespace(),
    taskQueue,
    activities,
    ...(workflowsPath ? { workflowsPath } : { workflowBundle: await bundleWorkflowsOnce() }),
    // The production sinks, counting into nothing unless a test passes its own.
    sinks: createSinks(),
    shutdownForceTime: FORCE_AFTER_MS,
    ...rest,
  });
  const running = worker.run();
  // A worker that fails while running is reported by stop(), not as an unhandled rejection.
  running.catch(() => undefined);
  return {
    worker,
    taskQueue,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      if (await settledWithin(running, STOP_DEADLINE_MS)) {
        await running;
        await connection.close();
        return;
      }
      const status = worker.getStatus();
      const inFlight = await describeTaskQueue(
        new Client({ connection, namespace: namespace ?? testNamespace() }),
        taskQueue,
      );
      await running.catch(() => undefined);
      await connection.close();
      throw new Error(
        `the test worker on ${taskQueue} did not stop within ${STOP_DEADLINE_MS / 1000} s ` +
          `(${status.numInFlightActivities} activities and ${status.numInFlightWorkflowActivations} workflow activations ` +
          `in flight; an activity that ignores cancellation keeps a worker from draining). Open workflows:\n${inFlight}`,
      );
    },
  };
}
