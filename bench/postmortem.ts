/**
 * Benchmark: `firebreak postmortem` of a long incident history, as a whole process, against its
 * peer measured in the same run on the same server — `temporal workflow show -o json` (the
 * Temporal CLI reading and printing the same history) as a process. Goal: firebreak ≤ 1.5× the
 * Temporal CLI at ~11,000 events. Runs alternate (temporal, firebreak, temporal, …) so load on
 * the machine hits both alike; medians are compared. Also reported: the export inside one process
 * (fetch + build + render) and build + render alone.
 *
 *   node --import tsx bench/postmortem.ts [--events 11000] [--runs 7] [--json]
 *   FIREBREAK_TEST_TEMPORAL_ADDRESS=host:port ...    uses a running server, else starts its own
 *
 * The CLI is compiled first (scripts/build-cli.mjs), as `npm install` does; the bench fails if
 * bin/firebreak.mjs falls back to the TypeScript sources.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { buildPostmortem, exportPostmortem, fetchHistoryEvents, renderJson, renderMarkdown } from '../postmortem';
import { cachedTemporalPath } from '../scripts/temporal-bin';
import { ensureTemporal } from '../test/bed/temporal';
import { percentile, positiveIntArg, writeBenchResult } from './support';
import type { BenchActivities } from './workflows/history';

const GOAL_RATIO = 1.5;
const BIN = fileURLToPath(new URL('../bin/firebreak.mjs', import.meta.url));

const activities: BenchActivities = {
  async checkHealth({ url }) {
    return { healthy: true, verdict: `${url} answered 200 in 3 ms` };
  },
  async setDeploymentEnv({ env }) {
    return { container: 'app', previous: Object.fromEntries(Object.keys(env).map((k) => [k, null])), applied: env };
  },
};

/** Runs a process to its end; its wall time and how many bytes it printed. */
function timed(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ ms: number; bytes: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolve({ ms, bytes, stderr });
    });
  });
}

const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const targetEvents = positiveIntArg(argv, 'events', 11_000);
  const runs = positiveIntArg(argv, 'runs', 7);
  await timed(process.execPath, [fileURLToPath(new URL('../scripts/build-cli.mjs', import.meta.url))], process.env);

  Runtime.install({ logger: new DefaultLogger('WARN') });
  const temporal = await ensureTemporal(() => undefined);
  const address = process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS!;
  const namespace = process.env.FIREBREAK_TEST_TEMPORAL_NAMESPACE ?? 'default';
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  const workerConnection = await NativeConnection.connect({ address });
  const taskQueue = `bench-${Date.now()}`;
  const worker = await Worker.create({
    connection: workerConnection,
    namespace,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('./workflows/history.ts', import.meta.url)),
    activities,
    maxConcurrentActivityTaskExecutions: 200,
  });
  const running = worker.run();
  try {
    const workflowId = `bench-postmortem-${targetEvents}-${Date.now()}`;
    const t0 = Date.now();
    await client.workflow.execute('historyBenchmarkWorkflow', {
      taskQueue,
      workflowId,
      args: [{ incidentId: `INC-BENCH-${targetEvents}`, targetEvents }],
      workflowExecutionTimeout: '10 minutes',
    });
    const recordSeconds = (Date.now() - t0) / 1000;

    const env = { ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace };
    const temporalArgs = ['workflow', 'show', '-w', workflowId, '-o', 'json', '--address', address, '-n', namespace];
    const firebreakArgs = [BIN, 'postmortem', workflowId, '--format', 'json'];
    // Warm the page cache and the server alike for both; not measured.
    await timed(cachedTemporalPath(), temporalArgs, env);
    const warm = await timed(process.execPath, firebreakArgs, env);
    if (/running from the TypeScript sources/.test(warm.stderr))
      throw new Error(`not the compiled CLI: ${warm.stderr}`);

    const peer: number[] = [];
    const ours: number[] = [];
    let peerBytes = 0;
    let ourBytes = 0;
    for (let run = 0; run < runs; run++) {
      const a = await timed(cachedTemporalPath(), temporalArgs, env);
      const b = await timed(process.execPath, firebreakArgs, env);
      peer.push(a.ms);
      ours.push(b.ms);
      peerBytes = a.bytes;
      ourBytes = b.bytes;
    }
    const helpRuns: number[] = [];
    for (let run = 0; run < runs; run++) helpRuns.push((await timed(process.execPath, [BIN, '--help'], env)).ms);
    const nodeFloor: number[] = [];
    for (let run = 0; run < runs; run++) nodeFloor.push((await timed(process.execPath, ['-e', '0'], env)).ms);

    const inProcess: number[] = [];
    let events = 0;
    for (let run = 0; run < 3; run++) {
      const start = performance.now();
      const exported = await exportPostmortem(client, { workflowId });
      inProcess.push(performance.now() - start);
      events = exported.postmortem.source.historyLength;
      if (exported.json.includes('bench-secret')) throw new Error('a secret reached the export');
    }
    const history = await fetchHistoryEvents(client, workflowId);
    const builds: number[] = [];
    for (let run = 0; run < 3; run++) {
      const start = performance.now();
      const postmortem = buildPostmortem(history, { workflowId });
      renderMarkdown(postmortem);
      renderJson(postmortem);
      builds.push(performance.now() - start);
    }

    const ratio = median(ours) / median(peer);
    const figures = {
      events,
      runs,
      recordSeconds,
      firebreakPostmortemMs: { median: Math.round(median(ours)), min: Math.round(Math.min(...ours)), bytes: ourBytes },
      temporalWorkflowShowMs: {
        median: Math.round(median(peer)),
        min: Math.round(Math.min(...peer)),
        bytes: peerBytes,
      },
      ratio: Math.round(ratio * 100) / 100,
      goalRatio: GOAL_RATIO,
      firebreakHelpMs: { median: Math.round(median(helpRuns)), max: Math.round(Math.max(...helpRuns)) },
      nodeStartMs: { median: Math.round(median(nodeFloor)) },
      exportInProcessMs: Math.round(median(inProcess)),
      buildAndRenderMs: Math.round(median(builds)),
    };
    const out = await writeBenchResult('postmortem', figures);
    if (argv.includes('--json')) console.log(JSON.stringify(figures, null, 2));
    else {
      console.log(
        `postmortem of ${events} events (history recorded in ${recordSeconds.toFixed(1)} s), ${runs} alternating runs, medians:`,
      );
      console.log(
        `  firebreak postmortem --format json (process)   ${figures.firebreakPostmortemMs.median} ms  (${ourBytes} bytes)`,
      );
      console.log(
        `  temporal workflow show -o json (process)       ${figures.temporalWorkflowShowMs.median} ms  (${peerBytes} bytes)`,
      );
      console.log(`  ratio ${figures.ratio}× (goal ≤ ${GOAL_RATIO}×)`);
      console.log(
        `  firebreak --help (process) ${figures.firebreakHelpMs.median} ms, max ${figures.firebreakHelpMs.max} ms (goal ≤ 300 ms); node -e 0 ${figures.nodeStartMs.median} ms`,
      );
      console.log(
        `  in one process: export (fetch + build + render) ${figures.exportInProcessMs} ms; build + render ${figures.buildAndRenderMs} ms`,
      );
      console.log(`  → ${out}`);
    }
    const pass = ratio <= GOAL_RATIO && figures.firebreakHelpMs.median <= 300;
    console.log(pass ? 'PASS' : 'FAIL');
    return pass ? 0 : 1;
  } finally {
    worker.shutdown();
    await running.catch(() => undefined);
    await workerConnection.close();
    await connection.close();
    await temporal.stop();
  }
}

main()
  .then((code) => process.exit(code))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
