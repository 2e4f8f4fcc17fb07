/**
 * The set-up of the scripts that drive runbooks on a dev server outside the test runner
 * (bench/hold.ts, bench/kernel.ts, test/record-histories.ts).
 */
import type { Client, Connection } from '@temporalio/client';
import type { FakeWorld } from '../workflows/fakes';
import { ensureTemporal } from './temporal';
import { connectTestClient, runTestWorker, uniqueTaskQueue, type TestWorker } from './worker';

/**
 * Runs `body` with a client of the bed's Temporal (or of a dev server of the script's own, see
 * ensureTemporal) and one worker running `world`'s typed fake activities on a task queue named
 * after `queuePrefix`. However `body` ends, the worker, the connection and the Temporal stop after
 * it, in that order.
 */
export async function withFakeWorldWorker<T>(
  world: FakeWorld,
  queuePrefix: string,
  body: (client: Client, worker: TestWorker) => Promise<T>,
): Promise<T> {
  const temporal = await ensureTemporal((line) => console.error(line));
  let connection: Connection | undefined;
  let worker: TestWorker | undefined;
  try {
    const connected = await connectTestClient();
    connection = connected.connection;
    worker = await runTestWorker({ activities: world.activities(), taskQueue: uniqueTaskQueue(queuePrefix) });
    return await body(connected.client, worker);
  } finally {
    await worker?.stop();
    await connection?.close();
    await temporal.stop();
  }
}
