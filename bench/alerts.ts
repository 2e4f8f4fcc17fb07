/**
 * Alert-webhook burst benchmark: N Alertmanager notifications (default 1,000) over G groups
 * (default 50), posted with bounded concurrency to the real ingress over HTTP, landing on a real
 * Temporal with the real workflows running on a worker with fake activities.
 *
 * Pass criteria: exactly G incidents, no 5xx (no non-2xx at all), and every fingerprint of every
 * group recorded in its incident. Reports notifications/s sustained and p50/p99/max latency.
 *
 *   node --import tsx bench/alerts.ts [--notifications 1000] [--groups 50] [--concurrency 32] [--json]
 *
 * Uses FIREBREAK_TEST_TEMPORAL_ADDRESS when set (`npm run bench -- --bed temporal bench/alerts.ts`),
 * else starts its own dev server in a temporary directory and stops it at the end. The figures
 * are also written to bench/results/alerts.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { alertWorkflowId } from '../common/ids';
import { DEFAULT_POLICY } from '../common/incident';
import { statusQuery } from '../domain/messages';
import {
  alertmanagerPayload,
  eventually,
  oomAlert,
  oomRoutesYaml,
  postJson,
  startTestIngress,
  workflowsOnQueue,
} from '../test/alerts-support';
import { FakeWorld } from '../test/workflows/fakes';
import { ensureTemporal } from '../test/bed/temporal';
import { percentile, positiveIntArg } from './support';

const TOKEN = 'bench-token';
const RECEIVER = 'firebreak\\.bench';
const FINGERPRINTS_PER_GROUP = 10;

interface Options {
  notifications: number;
  groups: number;
  concurrency: number;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const number = (name: string, fallback: number) => positiveIntArg(argv, name, fallback);
  return {
    notifications: number('notifications', 1000),
    groups: number('groups', 50),
    concurrency: number('concurrency', 32),
    json: argv.includes('--json'),
  };
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const cleanups: (() => Promise<void>)[] = [];
  const log = (line: string) => process.stderr.write(`[bench alerts] ${line}\n`);
  try {
    const temporal = await ensureTemporal(log);
    cleanups.push(() => temporal.stop());
    // Imported after the address is known: the bed helpers read it from the environment.
    const { connectTestClient, runTestWorker, uniqueTaskQueue } = await import('../test/bed/worker');
    const { client, connection } = await connectTestClient();
    cleanups.push(() => connection.close());
    const taskQueue = uniqueTaskQueue('bench-alerts');
    const world = new FakeWorld();
    // Cleanups run in reverse: the worker stops first, then its incidents are terminated quietly.
    cleanups.push(async () => {
      for (const id of await workflowsOnQueue(client, taskQueue)) {
        await client.workflow
          .getHandle(id)
          .terminate('benchmark finished')
          .catch(() => undefined);
      }
    });
    const worker = await runTestWorker({ activities: world.activities(), taskQueue });
    cleanups.push(() => worker.stop());
    const sink = taskQueue;
    const ingress = await startTestIngress({
      client,
      taskQueue,
      policy: DEFAULT_POLICY,
      configYaml: oomRoutesYaml(sink),
      env: { FIREBREAK_WEBHOOK_TOKEN: TOKEN },
    });
    cleanups.push(() => ingress.close());

    // Notification i goes to group i % G and carries two of the group's fingerprints, so by the
    // end every group has been told of all of them, across many notifications.
    const groupKey = (g: number) => `{}:{alertname="ContainerOOMKilled", bench="${sink}", group="${g}"}`;
    const bodies = Array.from({ length: options.notifications }, (_, i) => {
      const g = i % options.groups;
      const round = Math.floor(i / options.groups);
      const fingerprints = [round % FINGERPRINTS_PER_GROUP, (round * 3 + 1) % FINGERPRINTS_PER_GROUP];
      return JSON.stringify(
        alertmanagerPayload({
          receiver: RECEIVER,
          groupKey: groupKey(g),
          alerts: [...new Set(fingerprints)].map((f) =>
            oomAlert(sink, `g${g}-f${f}`, { deployment: `checkout-${g}`, pod: `checkout-${g}-${f}` }),
          ),
        }),
      );
    });
    const expected = new Map<string, Set<string>>();
    for (const body of bodies) {
      const payload = JSON.parse(body) as { groupKey: string; alerts: { fingerprint: string }[] };
      const id = alertWorkflowId('alertmanager', 'firebreak.bench', payload.groupKey);
      const set = expected.get(id) ?? new Set<string>();
      for (const alert of payload.alerts) set.add(alert.fingerprint);
      expected.set(id, set);
    }

    log(
      `posting ${options.notifications} notifications over ${options.groups} groups, ${options.concurrency} at a time`,
    );
    const url = `${ingress.url}/webhooks/alertmanager`;
    const latencies: number[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        for (let i = next++; i < bodies.length; i = next++) {
          const t0 = performance.now();
          let status: number;
          try {
            status = (await postJson(url, bodies[i]!, { authorization: `Bearer ${TOKEN}` })).status;
          } catch {
            status = 0;
          }
          latencies.push(performance.now() - t0);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    const elapsedMs = performance.now() - started;

    // Signals are durable once answered; the worker folds them in shortly after.
    const verifyStarted = performance.now();
    const incidents = await eventually(
      `${options.groups} incidents on the task queue`,
      async () => {
        const ids = await workflowsOnQueue(client, taskQueue);
        return ids.length >= expected.size ? ids : undefined;
      },
      60_000,
      500,
    );
    const missing: string[] = [];
    for (const [id, fingerprints] of expected) {
      const handle = client.workflow.getHandle(id);
      try {
        await eventually(
          `every fingerprint of ${id}`,
          async () => {
            const record = await handle.query(statusQuery);
            const seen = new Set(record.alerts.map((a) => a.fingerprint));
            return [...fingerprints].every((f) => seen.has(f)) && seen.size === fingerprints.size ? true : undefined;
          },
          60_000,
          250,
        );
      } catch {
        missing.push(id);
      }
    }
    const verifyMs = performance.now() - verifyStarted;

    latencies.sort((a, b) => a - b);
    const non2xx = [...statuses].filter(([status]) => status < 200 || status >= 300).reduce((n, [, c]) => n + c, 0);
    const fiveXx = [...statuses].filter(([status]) => status >= 500 || status === 0).reduce((n, [, c]) => n + c, 0);
    const result = {
      notifications: options.notifications,
      groups: options.groups,
      concurrency: options.concurrency,
      elapsedSeconds: Number((elapsedMs / 1000).toFixed(2)),
      notificationsPerSecond: Number((options.notifications / (elapsedMs / 1000)).toFixed(1)),
      latencyMs: {
        p50: Number(percentile(latencies, 50).toFixed(1)),
        p99: Number(percentile(latencies, 99).toFixed(1)),
        max: Number(percentile(latencies, 100).toFixed(1)),
      },
      statuses: Object.fromEntries(statuses),
      incidents: incidents.length,
      fingerprintsExpected: [...expected.values()].reduce((n, s) => n + s.size, 0),
      groupsMissingFingerprints: missing.length,
      verifySeconds: Number((verifyMs / 1000).toFixed(2)),
    };
    const failures = [
      ...(incidents.length !== options.groups ? [`${incidents.length} incidents, expected ${options.groups}`] : []),
      ...(fiveXx > 0 ? [`${fiveXx} 5xx or failed requests`] : []),
      ...(non2xx > 0 ? [`${non2xx} non-2xx answers`] : []),
      ...(missing.length > 0 ? [`${missing.length} groups missing fingerprints`] : []),
    ];
    const out = fileURLToPath(new URL('./results/alerts.json', import.meta.url));
    await mkdir(path.dirname(out), { recursive: true });
    const summary = { at: new Date().toISOString(), ...result, ok: failures.length === 0, failures };
    await writeFile(out, `${JSON.stringify(summary, null, 2)}\n`);
    if (options.json) {
      console.log(JSON.stringify({ ...result, ok: failures.length === 0, failures }));
    } else {
      console.log(
        `alert webhooks: ${result.notifications} notifications / ${result.groups} groups in ${result.elapsedSeconds} s ` +
          `= ${result.notificationsPerSecond} notifications/s; latency p50 ${result.latencyMs.p50} ms, ` +
          `p99 ${result.latencyMs.p99} ms, max ${result.latencyMs.max} ms; ${result.incidents} incidents; ` +
          `${result.fingerprintsExpected} fingerprints, ${missing.length} groups missing some; ` +
          `statuses ${JSON.stringify(result.statuses)}`,
      );
      console.log(failures.length === 0 ? 'PASS' : `FAIL: ${failures.join('; ')}`);
    }
    return failures.length === 0 ? 0 : 1;
  } finally {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (err) {
        log(`cleanup failed: ${(err as Error).message}`);
      }
    }
  }
}

main()
  .then((code) => process.exit(code))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
