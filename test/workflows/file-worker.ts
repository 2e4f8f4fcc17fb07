/**
 * The dev-server set-up the runbook workflow test files share: one client, and one worker running a
 * FakeWorld's typed fake activities on a task queue of the file's own, started before the file's tests
 * and stopped after them.
 */
import { after, before } from 'node:test';
import type { Client, Connection } from '@temporalio/client';
import { connectTestClient, runTestWorker, uniqueTaskQueue, type TestWorker } from '../bed/worker';
import type { ActivityName } from '../../activities';
import type { FakeWorld } from './fakes';

export interface FileWorker {
  /** The file's client on the dev server. */
  readonly client: Client;
  /** The task queue the file's worker polls. */
  readonly taskQueue: string;
}

/**
 * Registers the file's `before` (connect, start the worker on `world`'s activities, on a task queue
 * named after `queuePrefix`) and `after` (stop the worker, close the connection) hooks. Call it at a
 * test file's top level; read `client` and `taskQueue` inside tests, once `before` has run.
 */
export function workerOnFakeWorld(world: FakeWorld, queuePrefix: string): FileWorker {
  let client: Client | undefined;
  let connection: Connection | undefined;
  let worker: TestWorker | undefined;

  before(async () => {
    ({ client, connection } = await connectTestClient());
    worker = await runTestWorker({ activities: world.activities(), taskQueue: uniqueTaskQueue(queuePrefix) });
  });

  after(async () => {
    await worker?.stop();
    await connection?.close();
  });

  return {
    get client(): Client {
      if (!client) throw new Error(`the ${queuePrefix} test file's client is read before its before() hook ran`);
      return client;
    },
    get taskQueue(): string {
      if (!worker) throw new Error(`the ${queuePrefix} test file's worker is read before its before() hook ran`);
      return worker.taskQueue;
    },
  };
}

/**
 * A worker replaced mid-runbook: `start` runs on a task queue of its own (named after `queuePrefix`)
 * served by one worker on `shared`'s activities; once `held` (which `shared`'s scenario holds) has
 * been reached `count` times, that worker stops, `held` is released, and a second worker on
 * `shared`'s activities takes the queue. The caller stops `second`.
 */
export async function replaceWorkerWhileHeld<H>(
  shared: FakeWorld,
  queuePrefix: string,
  held: ActivityName,
  start: (taskQueue: string) => Promise<H>,
  count = 1,
): Promise<{ handle: H; second: TestWorker }> {
  const taskQueue = uniqueTaskQueue(queuePrefix);
  const first = await runTestWorker({ activities: shared.activities(), taskQueue });
  const handle = await start(taskQueue);
  await shared.reached(held, count);
  await first.stop();
  shared.release(held);
  const second = await runTestWorker({ activities: shared.activities(), taskQueue });
  return { handle, second };
}
