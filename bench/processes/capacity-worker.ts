/**
 * The worker of bench/capacity.ts, in a process of its own as `firebreak start` runs it: the
 * production worker factory (createFirebreakWorker: the same sizing, sinks, interceptors and bundle)
 * with the typed fake activities standing in for Kubernetes and Slack. Nothing else lives here —
 * no client of the benchmark, no ingress — so this process's RSS is the worker's.
 *
 * The stand-in world keeps no call log (Slack and the cluster keep theirs elsewhere): each call is
 * counted, and each approval request (an incident at its first gate) is reported to the benchmark
 * over the IPC channel with the time it arrived. Messages from the benchmark:
 *  - `{ type: 'measure' }`: three full GCs of the main thread, then the process's memory figures and
 *    the worker's status (workflows in its cache, activations and activities in flight);
 *  - `{ type: 'snapshot', path }`: a heap snapshot of the main thread written to `path`;
 *  - `{ type: 'stop' }`: shuts the worker down and exits.
 *
 * Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, FIREBREAK_TASK_QUEUE,
 * FIREBREAK_WORKFLOW_CACHE_SIZE, and FIREBREAK_WORKFLOW_BUNDLE (the test run's prebuilt bundle).
 * FIREBREAK_BENCH_WORKFLOWS_IN_MAIN_THREAD=1 (a diagnosis, not production): the workflows run in the
 * main thread (the SDK's debugMode), so the main thread's heap after a full GC — and its snapshots —
 * include the cached workflows and whatever else the workflow sandbox keeps.
 * Started by bench/capacity.ts with `node --expose-gc --import tsx bench/processes/capacity-worker.ts`.
 */
import { writeHeapSnapshot } from 'node:v8';
import { Worker } from '@temporalio/worker';
import { parseEnv } from '../../config/env';
import { createLogger } from '../../config/logger';
import type { ActivityName } from '../../activities';
import { FakeWorld } from '../../worker/fake-activities';
import { connectWorker } from '../../worker/temporal';
import { createFirebreakWorker } from '../../worker/worker';

export type ToWorker = { type: 'measure' } | { type: 'snapshot'; path: string } | { type: 'stop' };

export interface WorkerMemory {
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
  cachedWorkflows: number;
  inFlightActivations: number;
  inFlightActivities: number;
  activityCalls: number;
  /** Deployments the stand-in cluster has modelled (one per incident here): the fakes' own state. */
  fakeDeployments: number;
}

export type FromWorker =
  | { type: 'ready'; pid: number }
  | { type: 'gates'; ids: string[]; at: number }
  | { type: 'memory'; memory: WorkerMemory }
  | { type: 'snapshot'; path: string };

/** A FakeWorld that counts calls instead of logging them, and reports the first gates. */
class BenchWorld extends FakeWorld {
  activityCalls = 0;
  private gates: string[] = [];

  constructor(private readonly send: (message: FromWorker) => void) {
    super();
    setInterval(() => this.flush(), 100).unref();
  }

  override async enter(name: ActivityName, input: object): Promise<void> {
    this.activityCalls += 1;
    if (name === 'postApprovalRequest') this.gates.push(String((input as { incidentId?: unknown }).incidentId));
  }

  private flush(): void {
    if (this.gates.length === 0) return;
    this.send({ type: 'gates', ids: this.gates, at: Date.now() });
    this.gates = [];
  }
}

const mib = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));

async function main(): Promise<void> {
  const send = (message: FromWorker) => process.send?.(message);
  const env = parseEnv({ ...process.env, FIREBREAK_WORKER_VERSIONING: 'false', FIREBREAK_LOG_LEVEL: 'warn' });
  const logger = createLogger({ level: 'warn' });
  const connection = await connectWorker(env, env.TEMPORAL_ADDRESS!, logger);
  const world = new BenchWorld(send);
  if (process.env.FIREBREAK_BENCH_WORKFLOWS_IN_MAIN_THREAD === '1') {
    const create = Worker.create.bind(Worker);
    Worker.create = (options) => create({ ...options, debugMode: true });
  }
  const worker = await createFirebreakWorker({ env, connection, logger, activities: world.activities() });
  const gc = (globalThis as { gc?: () => void }).gc;

  process.on('message', (raw) => {
    const message = raw as ToWorker;
    void (async () => {
      if (message.type === 'measure') {
        for (let i = 0; i < 3; i++) {
          gc?.();
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const usage = process.memoryUsage();
        const status = worker.getStatus();
        send({
          type: 'memory',
          memory: {
            rssMiB: mib(usage.rss),
            heapUsedMiB: mib(usage.heapUsed),
            heapTotalMiB: mib(usage.heapTotal),
            externalMiB: mib(usage.external),
            arrayBuffersMiB: mib(usage.arrayBuffers),
            cachedWorkflows: status.numCachedWorkflows,
            inFlightActivations: status.numInFlightWorkflowActivations,
            inFlightActivities: status.numInFlightActivities,
            activityCalls: world.activityCalls,
            fakeDeployments: world.deployments.size,
          },
        });
      } else if (message.type === 'snapshot') {
        gc?.();
        send({ type: 'snapshot', path: writeHeapSnapshot(message.path) });
      } else if (message.type === 'stop') {
        worker.shutdown();
      }
    })();
  });
  // The benchmark going away (killed, crashed) takes the worker with it.
  process.on('disconnect', () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
  });
  const running = worker.run();
  send({ type: 'ready', pid: process.pid });
  await running;
  await connection.close();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
