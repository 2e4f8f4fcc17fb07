/**
 * How many open incidents one worker holds, and what it costs. The worker runs in a process of its
 * own (bench/processes/capacity-worker.ts: the production worker factory with the typed fake
 * activities), as `firebreak start` runs it; this process only opens incidents through its own
 * client and weighs the worker's process from outside (/proc/<pid>/status VmRSS, and the worker's
 * own figures after a full GC of its main thread: heap, workflows in its cache).
 *
 * N emergency-rollback incidents (default 2,000) are opened on the real dev server, each run to its
 * first gate (the approval request posted) and left waiting there, with the workflow cache at C
 * (default 500: FIREBREAK_WORKFLOW_CACHE_SIZE's default). At most W incidents (default 64) are
 * between their start and their first gate at once — a storm's pace the worker keeps up with, so
 * an incident is not evicted and replayed halfway to its gate. Reports:
 *  - the time to open them all to their first gate, incidents/s;
 *  - the worker's RSS (and main-thread heap, cached workflows) every N/10 incidents: with C < N the
 *    RSS must stop growing once the cache is full, whatever N;
 *  - the cost of waking one: an `acknowledge` update's round trip (and the worker's CPU per wake)
 *    for the last K opened (still cached) vs the first K (evicted: replayed from their history).
 *
 *   npm run bench -- --bed temporal bench/capacity.ts [--incidents 2000] [--cache 500] [--window 64]
 *     [--samples 20] [--sample-every N/10] [--snapshots DIR] [--bundle FILE] [--workflows-in-main-thread]
 *
 * `--snapshots DIR` writes heap snapshots of the worker's main thread at the first and the last
 * sample, to compare what grew (the workflows themselves live in the worker's workflow thread and in
 * the SDK's native core, which RSS counts and the main thread's heap does not).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { acknowledgeUpdate } from '../domain/messages';
import { prepareIncident } from '../runbooks';
import { ensureTemporal } from '../test/bed/temporal';
import { ALICE, BOB, fastPolicy, uniqueTarget } from '../test/workflows/harness';
import type { FromWorker, ToWorker, WorkerMemory } from './processes/capacity-worker';
import { percentile, positiveIntArg, processCpuMs, temporalServerPid, writeBenchResult } from './support';

const WORKER_ENTRY = fileURLToPath(new URL('./processes/capacity-worker.ts', import.meta.url));

async function vmRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kib = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  return Number((kib / 1024).toFixed(1));
}

/** The worker's process: messages in, its replies awaited one kind at a time. */
class WorkerProcess {
  readonly ready: Promise<number>;
  private readonly waiting = new Map<string, ((message: FromWorker) => void)[]>();
  readonly exited: Promise<number | null>;

  constructor(
    readonly child: ChildProcess,
    onGates: (ids: string[], at: number) => void,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.ready = new Promise((resolve, reject) => {
      this.waiting.set('ready', [(m) => resolve((m as { pid: number }).pid)]);
      void this.exited.then((code) => reject(new Error(`the worker process exited (${code}) before it was ready`)));
    });
    child.on('message', (raw) => {
      const message = raw as FromWorker;
      if (message.type === 'gates') return onGates(message.ids, message.at);
      this.waiting.get(message.type)?.shift()?.(message);
    });
  }

  request<T extends FromWorker['type']>(message: ToWorker, reply: T): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((resolve) => {
      const queue = this.waiting.get(reply) ?? [];
      queue.push((m) => resolve(m as Extract<FromWorker, { type: T }>));
      this.waiting.set(reply, queue);
      this.child.send(message);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.send({ type: 'stop' } satisfies ToWorker);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
  }
}

interface Sample extends WorkerMemory {
  atFirstGate: number;
  seconds: number;
  vmRssMiB: number;
}

const median = (values: number[]) =>
  Number(
    percentile(
      [...values].sort((a, b) => a - b),
      50,
    ).toFixed(1),
  );

async function main(): Promise<void> {
  const argv = process.argv;
  const incidents = positiveIntArg(argv, 'incidents', 2000);
  const cache = positiveIntArg(argv, 'cache', 500);
  const window = positiveIntArg(argv, 'window', 64);
  const samples = positiveIntArg(argv, 'samples', 20);
  const sampleEvery = positiveIntArg(argv, 'sample-every', Math.max(1, Math.round(incidents / 10)));
  const snapshotsAt = argv.indexOf('--snapshots');
  const snapshotDir = snapshotsAt >= 0 ? path.resolve(argv[snapshotsAt + 1] ?? '.') : undefined;
  // Another build's bundle (an older commit's, to compare): `--bundle /path/to/workflows.js`.
  const bundleAt = argv.indexOf('--bundle');
  const bundle = bundleAt >= 0 ? path.resolve(argv[bundleAt + 1] ?? '') : process.env.FIREBREAK_TEST_WORKFLOW_BUNDLE;
  const temporal = await ensureTemporal((line) => console.error(line));
  const { connectTestClient, uniqueTaskQueue } = await import('../test/bed/worker');
  const { client, connection } = await connectTestClient();
  const taskQueue = uniqueTaskQueue('bench-capacity');

  const gateWaiters = new Map<string, () => void>();
  const gateReached = new Set<string>();
  const onGates = (ids: string[]) => {
    for (const id of ids) {
      gateReached.add(id);
      gateWaiters.get(id)?.();
      gateWaiters.delete(id);
    }
  };
  const child = fork(WORKER_ENTRY, [], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: process.env.FIREBREAK_TEST_TEMPORAL_NAMESPACE ?? 'default',
      FIREBREAK_TASK_QUEUE: taskQueue,
      FIREBREAK_WORKFLOW_CACHE_SIZE: String(cache),
      ...(bundle ? { FIREBREAK_WORKFLOW_BUNDLE: bundle } : {}),
      ...(argv.includes('--workflows-in-main-thread') ? { FIREBREAK_BENCH_WORKFLOWS_IN_MAIN_THREAD: '1' } : {}),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const worker = new WorkerProcess(child, onGates);
  const ids: { workflowId: string; incidentId: string }[] = [];
  // Gates and acknowledgement far off: the incidents wait, as open incidents mostly do.
  const hour = 3_600_000;
  const policy = fastPolicy({
    ackDeadlineMs: { P0: 10 * hour, P1: 10 * hour, P2: 10 * hour, P3: 10 * hour },
    gateDeadlineMs: 10 * hour,
    gateEscalateAfterMs: 10 * hour,
    maxOpenMs: 40 * hour,
  });
  const uptime = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  const loadBefore = await uptime();
  try {
    const pid = await worker.ready;
    const measure = async (atFirstGate: number, seconds: number): Promise<Sample> => {
      const { memory } = await worker.request({ type: 'measure' }, 'memory');
      const sample = { atFirstGate, seconds: Number(seconds.toFixed(1)), vmRssMiB: await vmRssMiB(pid), ...memory };
      console.error(`capacity sample ${JSON.stringify(sample)}`);
      return sample;
    };
    const idle = await measure(0, 0);
    const series: Sample[] = [];
    const snapshots: string[] = [];
    const snapshot = async (label: string) => {
      if (!snapshotDir) return;
      const file = path.join(snapshotDir, `capacity-worker-${label}.heapsnapshot`);
      snapshots.push((await worker.request({ type: 'snapshot', path: file }, 'snapshot')).path);
    };

    // Where the opening's CPU goes: the worker, the Temporal server, this process (the client).
    const serverPid = await temporalServerPid(process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS ?? '');
    const cpuAt = async () => ({
      worker: await processCpuMs(pid),
      server: await processCpuMs(serverPid),
      bench: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    });
    const cpu0 = await cpuAt();
    const t0 = performance.now();
    const startMs: number[] = [];
    let next = 0;
    let nextSample = sampleEvery;
    let sampling: Promise<void> = Promise.resolve();
    await Promise.all(
      Array.from({ length: Math.min(window, incidents) }, async () => {
        for (let i = next++; i < incidents; i = next++) {
          const prepared = prepareIncident({
            runbook: 'emergency-rollback',
            targets: [uniqueTarget('capacity')],
            params: { healthUrl: 'http://capacity.shop.svc/health' },
            trigger: { kind: 'cli', user: ALICE.id },
            triggeredBy: ALICE,
            policy,
          });
          const incidentId = prepared.input.incidentId;
          ids.push({ workflowId: prepared.workflowId, incidentId });
          const gate = new Promise<void>((resolve) =>
            gateReached.has(incidentId) ? resolve() : gateWaiters.set(incidentId, resolve),
          );
          const s = performance.now();
          await client.workflow.start(prepared.workflowType, {
            taskQueue,
            workflowId: prepared.workflowId,
            args: [prepared.input],
            typedSearchAttributes: prepared.searchAttributes,
          });
          startMs.push(performance.now() - s);
          await gate;
          if (gateReached.size >= nextSample) {
            const at = gateReached.size;
            nextSample += sampleEvery;
            const seconds = (performance.now() - t0) / 1000;
            sampling = sampling.then(async () => {
              if (series.length === 0) await snapshot(`at-${at}`);
              series.push(await measure(at, seconds));
            });
          }
        }
      }),
    );
    const openSeconds = (performance.now() - t0) / 1000;
    const cpu1 = await cpuAt();
    const cpuPerIncidentMs = (key: keyof typeof cpu0) =>
      Number(((cpu1[key] - cpu0[key]) / Math.max(1, gateReached.size)).toFixed(1));
    await sampling;
    // Let the couriers settle (cards, thread posts) before weighing the process.
    await new Promise((r) => setTimeout(r, 5_000));
    const settled = await measure(gateReached.size, (performance.now() - t0) / 1000);
    await snapshot(`at-${gateReached.size}-settled`);

    // Waking an incident: an acknowledgement handled by the cached workflow, or by a replay of its
    // history when it was evicted. The last opened first (cached), then the first opened.
    const wake = async (batch: typeof ids) => {
      const roundTrips: number[] = [];
      const cpu0 = await processCpuMs(pid);
      for (const { workflowId } of batch) {
        const s = performance.now();
        await client.workflow
          .getHandle(workflowId)
          .executeUpdate(acknowledgeUpdate, { args: [{ actor: BOB, note: 'capacity' }], updateId: randomUUID() });
        roundTrips.push(performance.now() - s);
      }
      const cpuPerWakeMs = ((await processCpuMs(pid)) - cpu0) / batch.length;
      return {
        medianMs: median(roundTrips),
        maxMs: Number(Math.max(...roundTrips).toFixed(1)),
        workerCpuPerWakeMs: cpuPerWakeMs,
      };
    };
    const k = Math.min(samples, Math.floor(ids.length / 2));
    const cached = await wake(ids.slice(-k));
    const evicted = await wake(ids.slice(0, k));

    const first = series[0] ?? idle;
    const perIncidentKiB = (a: Sample, b: Sample) =>
      b.atFirstGate > a.atFirstGate
        ? Number((((b.vmRssMiB - a.vmRssMiB) * 1024) / (b.atFirstGate - a.atFirstGate)).toFixed(1))
        : NaN;
    const summary = {
      incidents,
      cache,
      window,
      bundle: bundle ?? 'the bundle of these sources',
      workflowsInMainThread: argv.includes('--workflows-in-main-thread'),
      reachedFirstGate: gateReached.size,
      openToFirstGateSeconds: Number(openSeconds.toFixed(1)),
      incidentsPerSecond: Number((gateReached.size / openSeconds).toFixed(2)),
      cpuPerIncidentMs: {
        worker: cpuPerIncidentMs('worker'),
        temporalServer: cpuPerIncidentMs('server'),
        benchClient: cpuPerIncidentMs('bench'),
        note: 'the worker figure includes the samples (3 full GCs each)',
      },
      startMs: {
        p50: median(startMs),
        p99: Number(
          percentile(
            [...startMs].sort((a, b) => a - b),
            99,
          ).toFixed(1),
        ),
      },
      workerRssMiB: { idle: idle.vmRssMiB, firstSample: first.vmRssMiB, settled: settled.vmRssMiB },
      rssGrowthKiBPerIncident: {
        idleToSettled: perIncidentKiB(idle, settled),
        firstSampleToSettled: perIncidentKiB(first, settled),
      },
      series: [idle, ...series, settled].map((s) => ({
        atFirstGate: s.atFirstGate,
        seconds: s.seconds,
        vmRssMiB: s.vmRssMiB,
        heapUsedMiB: s.heapUsedMiB,
        externalMiB: s.externalMiB,
        cachedWorkflows: s.cachedWorkflows,
      })),
      wake: { samples: k, cached, evicted },
      snapshots,
      loadAverage: { before: loadBefore, after: await uptime() },
    };
    console.log('capacity', JSON.stringify(summary));
    await writeBenchResult(`capacity-${incidents}-cache-${cache}`, summary);
    if (gateReached.size < incidents) process.exitCode = 1;
  } finally {
    await worker.stop();
    // The incidents and the deployment holds they claimed, in one batch the server runs by itself.
    await client.workflowService
      .startBatchOperation({
        namespace: client.options.namespace,
        jobId: randomUUID(),
        reason: 'benchmark finished',
        visibilityQuery: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`,
        terminationOperation: {},
      })
      .catch((err: unknown) => console.error(`could not terminate the benchmark's workflows: ${String(err)}`));
    await connection.close();
    await temporal.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
