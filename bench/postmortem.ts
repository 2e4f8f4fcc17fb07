/**
 * Benchmark: postmortem export (fetch the history + build the model + render Markdown and JSON)
 * for histories of about 1,000 and 10,000 events on a real Temporal dev server. Target: < 2 s at
 * 10,000 events.
 *
 *   node --import tsx bench/postmortem.ts            starts its own dev server
 *   FIREBREAK_TEST_TEMPORAL_ADDRESS=host:port ...    uses a running one
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { buildPostmortem, exportPostmortem, fetchHistoryEvents, renderJson, renderMarkdown } from '../postmortem';
import { ensureTemporal } from '../test/bed/temporal';
import type { BenchActivities } from './workflows/history';

const SIZES = [1_000, 10_000];
const RUNS = 5;
const TARGET_MS = 2_000;

const activities: BenchActivities = {
  async checkHealth({ url }) {
    return { healthy: true, verdict: `${url} answered 200 in 3 ms` };
  },
  async setDeploymentEnv({ env }) {
    return { container: 'app', previous: Object.fromEntries(Object.keys(env).map((k) => [k, null])), applied: env };
  },
};

async function main(): Promise<number> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const temporal = await ensureTemporal(() => undefined);
  const address = process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS!;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const workerConnection = await NativeConnection.connect({ address });
  const taskQueue = `bench-${Date.now()}`;
  const worker = await Worker.create({
    connection: workerConnection,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('./workflows/history.ts', import.meta.url)),
    activities,
    maxConcurrentActivityTaskExecutions: 200,
  });
  const running = worker.run();
  let failed = false;
  const results: Record<string, unknown> = {};
  try {
    for (const size of SIZES) {
      const workflowId = `bench-postmortem-${size}-${Date.now()}`;
      const t0 = Date.now();
      await client.workflow.execute('historyBenchmarkWorkflow', {
        taskQueue,
        workflowId,
        args: [{ incidentId: `INC-BENCH-${size}`, targetEvents: size }],
        workflowExecutionTimeout: '10 minutes',
      });
      const recordMs = Date.now() - t0;
      const totals: number[] = [];
      const builds: number[] = [];
      let events = 0;
      for (let run = 0; run < RUNS; run++) {
        const start = performance.now();
        const exported = await exportPostmortem(client, { workflowId });
        totals.push(performance.now() - start);
        events = exported.postmortem.source.historyLength;
        if (exported.json.includes('bench-secret')) throw new Error('a secret reached the export');
      }
      const history = await fetchHistoryEvents(client, workflowId);
      for (let run = 0; run < RUNS; run++) {
        const start = performance.now();
        const postmortem = buildPostmortem(history, { workflowId });
        renderMarkdown(postmortem);
        renderJson(postmortem);
        builds.push(performance.now() - start);
      }
      const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
      const total = median(totals);
      console.log(
        `${events} events: export (fetch + build + render) median ${total.toFixed(0)} ms, ` +
          `min ${Math.min(...totals).toFixed(0)} ms, max ${Math.max(...totals).toFixed(0)} ms over ${RUNS} runs; ` +
          `build + render only median ${median(builds).toFixed(0)} ms (history recorded in ${(recordMs / 1000).toFixed(1)} s)`,
      );
      results[String(size)] = {
        events,
        exportMedianMs: Math.round(total),
        exportMinMs: Math.round(Math.min(...totals)),
        exportMaxMs: Math.round(Math.max(...totals)),
        buildAndRenderMedianMs: Math.round(median(builds)),
        runs: RUNS,
      };
      if (size >= 10_000 && total >= TARGET_MS) {
        console.log(`  FAIL: ${events} events took ${total.toFixed(0)} ms, target < ${TARGET_MS} ms`);
        failed = true;
      }
    }
    const out = fileURLToPath(new URL('./results/postmortem.json', import.meta.url));
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(
      out,
      `${JSON.stringify({ at: new Date().toISOString(), targetMs: TARGET_MS, results }, null, 2)}\n`,
    );
  } finally {
    worker.shutdown();
    await running;
    await workerConnection.close();
    await connection.close();
    await temporal.stop();
  }
  return failed ? 1 : 0;
}

main()
  .then((code) => process.exit(code))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
