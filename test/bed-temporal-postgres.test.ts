/**
 * The bed's production-shaped Temporal (test/bed/temporal-postgres.ts): Firebreak's own start-up
 * step (prepareNamespace) prepares it like any external cluster, a real workflow runs on it, and a
 * workflow started before a SIGKILL of the server completes after the restart from what
 * PostgreSQL kept.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { FIREBREAK_SEARCH_ATTRIBUTES, runbookKey } from '../common/search-attributes';
import { prepareNamespace } from '../worker/devserver';
import {
  bedTemporalPostgres,
  DYNAMIC_CONFIG,
  launchTemporalServer,
  registerNamespace,
  setupTemporalSchema,
  waitForNamespace,
  writeServerConfig,
} from './bed/temporal-postgres';
import { runTestWorker, uniqueTaskQueue } from './bed/worker';

const bed = bedTemporalPostgres();
const SMOKE_WORKFLOWS = fileURLToPath(new URL('./fixtures/workflows/smoke.ts', import.meta.url));
const echo = async (text: string) => text.toUpperCase();
const quiet = () => undefined;

describe('Temporal on PostgreSQL', { skip: bed ? false : 'needs the temporal-postgres bed component' }, () => {
  test('the shared dynamic config is valid for this server release', async () => {
    const { stdout } = await promisify(execFile)(path.join(bed!.serverDir, 'bin/temporal-server'), [
      'validate-dynamic-config',
      DYNAMIC_CONFIG,
    ]);
    assert.doesNotMatch(stdout, /error|warning/);
  });

  test('prepareNamespace registers the search attributes, usable at once; a workflow using them completes', async () => {
    const connection = await Connection.connect({ address: bed!.address });
    const worker = await runTestWorker({ address: bed!.address, workflowsPath: SMOKE_WORKFLOWS, activities: { echo } });
    try {
      await prepareNamespace(connection, 'default', quiet);
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      for (const key of FIREBREAK_SEARCH_ATTRIBUTES) assert.ok(key.name in (customAttributes ?? {}), key.name);
      const described = await connection.workflowService.describeNamespace({ namespace: 'default' });
      assert.ok(Number(described.config?.workflowExecutionRetentionTtl?.seconds) >= 30 * 24 * 3600);

      const client = new Client({ connection, namespace: 'default' });
      const workflowId = `pg-smoke-${randomUUID()}`;
      // A real cluster's caches learn new search attributes a second or two late; prepareNamespace
      // returns only once the frontend accepts them, so the first start that uses them is not refused.
      const handle = await client.workflow.start('smokeWorkflow', {
        taskQueue: worker.taskQueue,
        workflowId,
        args: ['on postgres'],
        typedSearchAttributes: [{ key: runbookKey, value: 'bed-smoke' }],
      });
      assert.equal(await handle.result(), 'workflow saw: ON POSTGRES');

      // Visibility lives in PostgreSQL too: the run is found by a Firebreak search attribute.
      const deadline = Date.now() + 20_000;
      let found: string[] = [];
      while (found.length === 0 && Date.now() < deadline) {
        found = [];
        for await (const run of client.workflow.list({
          query: `FirebreakRunbook = 'bed-smoke' AND WorkflowId = '${workflowId}'`,
        })) {
          if (run.status.name === 'COMPLETED') found.push(run.workflowId);
        }
        if (found.length === 0) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.deepEqual(found, [workflowId]);
    } finally {
      await worker.stop();
      await connection.close();
    }
  });

  test('the server serves its metrics and the bed Prometheus scrapes them', async (t) => {
    const metrics = await (await fetch(process.env.FIREBREAK_TEST_TEMPORAL_PG_METRICS_URL!)).text();
    assert.match(metrics, /^persistence_requests\{/m, 'persistence metrics of a server that talks to PostgreSQL');
    const prometheus = process.env.FIREBREAK_TEST_PROMETHEUS_URL;
    if (!prometheus) return t.skip('no Prometheus in this bed');
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent('up{job="temporal-postgres"}')}`);
      const { data } = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      if (data.result[0]?.value[1] === '1') return;
      if (Date.now() > deadline) assert.fail(`temporal-postgres not scraped: ${JSON.stringify(data.result)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  });

  test('a workflow started before a SIGKILL of the server completes after the restart', async (t) => {
    // A cluster of the test's own on databases of its own, so the shared server stays up for other tests.
    const id = randomUUID().slice(0, 8);
    const databases = { main: `temporal_restart_${id}`, visibility: `temporal_restart_${id}_visibility` };
    const root = await mkdtemp(path.join(tmpdir(), 'firebreak-pg-restart-'));
    let server;
    try {
      await setupTemporalSchema(bed!.serverDir, bed!.pg, databases);
      const config = await writeServerConfig(root, bed!.pg, databases);
      server = await launchTemporalServer(bed!.serverDir, config);
      await registerNamespace(config.address, 'default', quiet);
      await waitForNamespace(config.address, 'default');

      const taskQueue = uniqueTaskQueue('pg-restart');
      const workflowId = `pg-restart-${id}`;
      let connection = await Connection.connect({ address: config.address });
      // No worker yet: the workflow and its first task exist only in PostgreSQL when the server dies.
      await new Client({ connection }).workflow.start('smokeWorkflow', { taskQueue, workflowId, args: ['survived'] });
      await connection.close();

      server.process.kill('SIGKILL');
      await once(server.process, 'exit');
      await server.stop();
      const t0 = Date.now();
      server = await launchTemporalServer(bed!.serverDir, config);
      t.diagnostic(`server back in ${Date.now() - t0} ms`);

      connection = await Connection.connect({ address: config.address });
      const worker = await runTestWorker({
        address: config.address,
        taskQueue,
        workflowsPath: SMOKE_WORKFLOWS,
        activities: { echo },
      });
      try {
        const handle = new Client({ connection }).workflow.getHandle(workflowId);
        assert.equal(await handle.result(), 'workflow saw: SURVIVED');
        const history = await handle.fetchHistory();
        assert.equal(history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name, 'smokeWorkflow');
      } finally {
        await worker.stop();
        await connection.close();
      }
    } finally {
      await server?.stop();
      await rm(root, { recursive: true, force: true });
    }
  });
});
