/**
 * How many open incidents one worker holds, and what it costs: N emergency-rollback incidents
 * (default 500) opened at once on the real dev server with the typed fake activities, each run to
 * its first gate (the approval request posted) and left waiting there, with the worker's workflow
 * cache at C (default FIREBREAK_WORKFLOW_CACHE_SIZE's default). Reports:
 *  - the time to open them all to their first gate, and incidents/s;
 *  - the process's RSS before and after (after a full GC), and the growth per open incident;
 *  - the cost of waking one: a query answered from the cache vs one that must replay the incident
 *    from its history (evicted), median of K samples each.
 * Run it with C ≥ N to measure memory per cached incident, and with C < N to see the bound.
 *
 *   node --import tsx bench/capacity.ts [--incidents 500] [--cache 500] [--concurrency 32] [--samples 20]
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { statusQuery } from '../domain/messages';
import { prepareIncident } from '../runbooks';
import { ensureTemporal } from '../test/bed/temporal';
import { FakeWorld } from '../test/workflows/fakes';
import { ALICE, fastPolicy, uniqueTarget } from '../test/workflows/harness';
import { percentile, positiveIntArg, runConcurrently, writeBenchResult } from './support';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function rssMiB(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 200));
  }
  return Number((process.memoryUsage().rss / 2 ** 20).toFixed(1));
}

async function main(): Promise<void> {
  const argv = process.argv;
  const incidents = positiveIntArg(argv, 'incidents', 500);
  const cache = positiveIntArg(argv, 'cache', 500);
  const concurrency = positiveIntArg(argv, 'concurrency', 32);
  const samples = positiveIntArg(argv, 'samples', 20);
  const temporal = await ensureTemporal((line) => console.error(line));
  const { connectTestClient, runTestWorker, uniqueTaskQueue } = await import('../test/bed/worker');
  const { workerSizing } = await import('../worker/worker');
  const { client, connection } = await connectTestClient();
  const world = new FakeWorld();
  const sizing = { ...workerSizing({ FIREBREAK_WORKFLOW_CACHE_SIZE: cache }) };
  const worker = await runTestWorker({
    activities: world.activities(),
    taskQueue: uniqueTaskQueue('bench-capacity'),
    ...sizing,
  });
  const ids: string[] = [];
  // Gates and acknowledgement far off: the incidents wait, as open incidents mostly do.
  const hour = 3_600_000;
  const policy = fastPolicy({
    ackDeadlineMs: { P0: hour, P1: hour, P2: hour, P3: hour },
    gateDeadlineMs: 3_600_000,
    gateEscalateAfterMs: 3_600_000,
    maxOpenMs: 4 * 3_600_000,
  });
  try {
    const before = await rssMiB();
    const asked = () =>
      new Set(world.calls.filter((c) => c.name === 'postApprovalRequest').map((c) => c.input.incidentId));
    const t0 = performance.now();
    await runConcurrently(incidents, concurrency, async () => {
      const prepared = prepareIncident({
        runbook: 'emergency-rollback',
        targets: [uniqueTarget('capacity')],
        params: { healthUrl: 'http://capacity.shop.svc/health' },
        trigger: { kind: 'cli', user: ALICE.id },
        triggeredBy: ALICE,
        policy,
      });
      ids.push(prepared.workflowId);
      await client.workflow.start(prepared.workflowType, {
        taskQueue: worker.taskQueue,
        workflowId: prepared.workflowId,
        args: [prepared.input],
        typedSearchAttributes: prepared.searchAttributes,
      });
    });
    const startedSeconds = (performance.now() - t0) / 1000;
    const deadline = Date.now() + 30 * 60_000;
    while (asked().size < incidents && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const reached = asked().size;
    const openSeconds = (performance.now() - t0) / 1000;
    // Let the couriers settle (cards, thread posts) before weighing the process.
    await new Promise((r) => setTimeout(r, 5_000));
    const after = await rssMiB();

    // Waking an incident: a query is answered by the cached workflow, or by a replay of its history.
    const time = async (id: string) => {
      const s = performance.now();
      await client.workflow.getHandle(id).query(statusQuery);
      return performance.now() - s;
    };
    const recent = ids.slice(-Math.min(samples, ids.length));
    const oldest = ids.slice(0, Math.min(samples, ids.length));
    const recentMs: number[] = [];
    for (const id of recent) recentMs.push(await time(id));
    const oldestMs: number[] = [];
    for (const id of oldest) oldestMs.push(await time(id));
    const median = (values: number[]) =>
      Number(
        percentile(
          [...values].sort((a, b) => a - b),
          50,
        ).toFixed(1),
      );
    const summary = {
      incidents,
      cache,
      sizing,
      reachedFirstGate: reached,
      startSeconds: Number(startedSeconds.toFixed(1)),
      openToFirstGateSeconds: Number(openSeconds.toFixed(1)),
      incidentsPerSecond: Number((reached / openSeconds).toFixed(1)),
      rssMiB: { before, after },
      rssPerOpenIncidentKiB: Number((((after - before) * 1024) / incidents).toFixed(1)),
      queryMs: {
        recentlyOpened: median(recentMs),
        oldest: median(oldestMs),
        note: cache >= incidents ? 'every incident cached' : 'the oldest are evicted: their query replays the history',
      },
    };
    console.log('capacity', JSON.stringify(summary));
    await writeBenchResult(`capacity-${incidents}-cache-${cache}`, summary);
  } finally {
    await worker.stop();
    // The incidents and the deployment holds they claimed.
    for await (const execution of client.workflow.list({ query: `TaskQueue = '${worker.taskQueue}'` })) {
      await client.workflow
        .getHandle(execution.workflowId)
        .terminate('benchmark finished')
        .catch(() => undefined);
    }
    await connection.close();
    await temporal.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
