import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Client, Connection } from '@temporalio/client';
import { connectTestClient, runTestWorker, type TestWorker } from './bed/worker';
import { FIREBREAK_SEARCH_ATTRIBUTES } from '../common/search-attributes';

let client: Client;
let connection: Connection;
let worker: TestWorker;
const echoed: string[] = [];

before(async () => {
  ({ client, connection } = await connectTestClient());
  worker = await runTestWorker({
    workflowsPath: fileURLToPath(new URL('./fixtures/workflows/smoke.ts', import.meta.url)),
    activities: {
      async echo(text: string) {
        echoed.push(text);
        return text.toUpperCase();
      },
    },
  });
});

after(async () => {
  await worker?.stop();
  await connection?.close();
});

test('a real workflow runs a real activity on the shared dev server', async () => {
  const result = await client.workflow.execute('smokeWorkflow', {
    taskQueue: worker.taskQueue,
    workflowId: `smoke-${Date.now()}`,
    args: ['hello'],
  });
  assert.equal(result, 'workflow saw: HELLO');
  assert.deepEqual(echoed, ['hello']);
});

test('the bed registered the search attributes and raised retention', async () => {
  const attributes = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
  for (const key of FIREBREAK_SEARCH_ATTRIBUTES) {
    assert.ok(key.name in (attributes.customAttributes ?? {}), `${key.name} is registered`);
  }
  const namespace = await connection.workflowService.describeNamespace({ namespace: 'default' });
  assert.ok(Number(namespace.config?.workflowExecutionRetentionTtl?.seconds) >= 30 * 24 * 3600);
});
