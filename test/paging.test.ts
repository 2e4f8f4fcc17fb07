/**
 * Paging activities against the loopback PagerDuty Events v2 stand-in; with
 * FIREBREAK_TEST_TEMPORAL_ADDRESS set, also under a real Temporal worker so retry behaviour (429
 * retried after Retry-After, 400 never retried) is what the server actually did.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, type Client, type Connection } from '@temporalio/client';
import { ActivityFailure } from '@temporalio/common';
import { createPagingActivities, type PagingActivities } from '../activities/paging';
import { ErrorType } from '../common/errors';
import { PagerDutyStandIn } from './bed/pagerduty-standin';
import { pageUnderRetryWorkflow } from './fixtures/workflows/paging';
import { connectTestClient, runTestWorker, type TestWorker } from './bed/worker';

const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';
assert.equal(ROUTING_KEY.length, 32);

let pagerduty: PagerDutyStandIn;
let paging: PagingActivities;

before(async () => {
  pagerduty = new PagerDutyStandIn();
  const eventsUrl = await pagerduty.start();
  paging = createPagingActivities({ routingKey: ROUTING_KEY, eventsUrl });
});

after(async () => {
  await pagerduty.stop();
});

const incidentId = () => `incident:p0-response:shop/checkout-${randomUUID().slice(0, 8)}`;

const eventsFor = (dedupKey: string) =>
  pagerduty.events.filter((e) => (e.body as { dedup_key?: string } | undefined)?.dedup_key === dedupKey);

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected the call to fail');
}

describe('paging activities on the stand-in', () => {
  test('trigger, re-trigger, acknowledge, resolve share the incident id as dedup_key', async () => {
    const id = incidentId();
    const first = await paging.triggerPage({
      incidentId: id,
      summary: 'P0 INCIDENT: checkout is down',
      severity: 'P0',
      source: 'shop/checkout',
      details: { health: 'unreachable: ECONNREFUSED' },
      links: [{ href: 'https://slack.example/archives/C1/p1', text: 'Incident card' }],
    });
    assert.deepEqual(first, { dedupKey: id, action: 'trigger', status: 'success', message: 'Event processed' });
    const sent = eventsFor(id)[0]!.body as Record<string, unknown> & { payload: Record<string, unknown> };
    assert.equal(sent.routing_key, ROUTING_KEY);
    assert.equal(sent.event_action, 'trigger');
    assert.equal(sent.payload.severity, 'critical');
    assert.equal(sent.payload.source, 'shop/checkout');
    assert.deepEqual(sent.payload.custom_details, {
      incident_id: id,
      firebreak_severity: 'P0',
      health: 'unreachable: ECONNREFUSED',
    });
    assert.equal(pagerduty.alerts.get(id)?.status, 'triggered');

    await paging.triggerPage({ incidentId: id, summary: 'still down', severity: 'P0', source: 'shop/checkout' });
    assert.equal(pagerduty.alerts.get(id)?.triggers, 2, 're-page lands on the same alert');

    assert.equal((await paging.acknowledgePage({ incidentId: id })).action, 'acknowledge');
    assert.equal(pagerduty.alerts.get(id)?.status, 'acknowledged');
    assert.equal((await paging.resolvePage({ incidentId: id })).action, 'resolve');
    assert.equal(pagerduty.alerts.get(id)?.status, 'resolved');
    assert.deepEqual(
      eventsFor(id).map((e) => [(e.body as { event_action: string }).event_action, e.status]),
      [
        ['trigger', 202],
        ['trigger', 202],
        ['acknowledge', 202],
        ['resolve', 202],
      ],
    );
  });

  test('severities map P0..P3 to critical/error/warning/info', async () => {
    const severities = [];
    for (const severity of ['P0', 'P1', 'P2', 'P3'] as const) {
      const id = incidentId();
      await paging.triggerPage({ incidentId: id, summary: `a ${severity}`, severity, source: 'shop/cart' });
      severities.push(pagerduty.alerts.get(id)?.severity);
    }
    assert.deepEqual(severities, ['critical', 'error', 'warning', 'info']);
  });

  test('a summary beyond PagerDuty’s 1024 characters is cut, not rejected', async () => {
    const id = incidentId();
    await paging.triggerPage({ incidentId: id, summary: 'x'.repeat(5000), severity: 'P2', source: 'shop/cart' });
    assert.equal(pagerduty.alerts.get(id)?.summary.length, 1024);
  });

  test('429 with Retry-After: retryable RATE_LIMITED carrying the delay, then success', async () => {
    const id = incidentId();
    pagerduty.failNext(1, 429, '3');
    const err = await failure(paging.triggerPage({ incidentId: id, summary: 's', severity: 'P1', source: 'src' }));
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, ErrorType.RATE_LIMITED);
    assert.equal(err.nonRetryable, false);
    assert.equal(err.nextRetryDelay, 3000);
    const ok = await paging.triggerPage({ incidentId: id, summary: 's', severity: 'P1', source: 'src' });
    assert.equal(ok.status, 'success');
    assert.deepEqual(
      eventsFor(id).map((e) => e.status),
      [429, 202],
    );
  });

  test('429 without Retry-After leaves the delay to the retry policy; 5xx is a plain transient error', async () => {
    pagerduty.failNext(1, 429);
    const limited = await failure(paging.acknowledgePage({ incidentId: incidentId() }));
    assert.ok(limited instanceof ApplicationFailure);
    assert.equal(limited.nonRetryable, false);
    assert.equal(limited.nextRetryDelay, undefined);

    pagerduty.failNext(1, 503);
    const unavailable = await failure(paging.resolvePage({ incidentId: incidentId() }));
    assert.ok(unavailable instanceof Error);
    assert.ok(!(unavailable instanceof ApplicationFailure), 'transient: retried with the policy');
    assert.match(unavailable.message, /answered 503/);
  });

  test('400 is PROVIDER_REJECTED, non-retryable, with PagerDuty’s reasons', async () => {
    const badKey = createPagingActivities({ routingKey: 'too-short', eventsUrl: pagerduty.url });
    const id = incidentId();
    const err = await failure(badKey.triggerPage({ incidentId: id, summary: 's', severity: 'P0', source: 'src' }));
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, ErrorType.PROVIDER_REJECTED);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /400 Event object is invalid: Length of 'routing_key' is incorrect/);
    assert.equal(eventsFor(id).length, 1);
  });

  test('no routing key is NOT_CONFIGURED and sends nothing', async () => {
    const before = pagerduty.events.length;
    const err = await failure(
      createPagingActivities({ eventsUrl: pagerduty.url }).triggerPage({
        incidentId: incidentId(),
        summary: 's',
        severity: 'P0',
        source: 'src',
      }),
    );
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, ErrorType.NOT_CONFIGURED);
    assert.equal(err.nonRetryable, true);
    assert.equal(pagerduty.events.length, before);
  });

  test('PagerDuty unreachable is transient', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = createPagingActivities({
      routingKey: ROUTING_KEY,
      eventsUrl: `http://127.0.0.1:${port}/v2/enqueue`,
    });
    const err = await failure(unreachable.resolvePage({ incidentId: incidentId() }));
    assert.ok(err instanceof Error && !(err instanceof ApplicationFailure));
    assert.match(err.message, /did not get through: ECONNREFUSED/);
  });
});

describe('the stand-in validates like PagerDuty', () => {
  const post = async (body: string) => {
    const res = await fetch(pagerduty.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: res.status, body: (await res.json()) as { status: string; message: string; errors?: string[] } };
  };

  test('trigger without summary/source and with a bad severity', async () => {
    const res = await post(
      JSON.stringify({ routing_key: ROUTING_KEY, event_action: 'trigger', payload: { severity: 'fatal' } }),
    );
    assert.equal(res.status, 400);
    assert.equal(res.body.status, 'invalid event');
    assert.equal(res.body.message, 'Event object is invalid');
    assert.deepEqual(res.body.errors, [
      "'payload.summary' is missing or blank",
      "'payload.source' is missing or blank",
      "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')",
    ]);
  });

  test('acknowledge needs a dedup_key; unknown actions and non-JSON are refused', async () => {
    const ack = await post(JSON.stringify({ routing_key: ROUTING_KEY, event_action: 'acknowledge' }));
    assert.equal(ack.status, 400);
    assert.deepEqual(ack.body.errors, ["'dedup_key' is missing or blank"]);
    const action = await post(JSON.stringify({ routing_key: ROUTING_KEY, event_action: 'snooze', dedup_key: 'k' }));
    assert.equal(action.status, 400);
    assert.match(action.body.errors![0]!, /'event_action' is invalid/);
    const garbage = await post('{not json');
    assert.equal(garbage.status, 400);
    assert.equal(garbage.body.status, 'invalid request');
  });

  test('a trigger without dedup_key gets one generated', async () => {
    const res = await post(
      JSON.stringify({
        routing_key: ROUTING_KEY,
        event_action: 'trigger',
        payload: { summary: 's', source: 'src', severity: 'info' },
      }),
    );
    assert.equal(res.status, 202);
    assert.match((res.body as unknown as { dedup_key: string }).dedup_key, /^[0-9a-f]{32}$/);
  });
});

const temporalAddress = process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS;

describe(
  'under a real Temporal worker',
  { skip: temporalAddress ? false : 'FIREBREAK_TEST_TEMPORAL_ADDRESS not set' },
  () => {
    let worker: TestWorker;
    let client: Client;
    let connection: Connection;

    before(async () => {
      ({ client, connection } = await connectTestClient());
      worker = await runTestWorker({
        workflowsPath: fileURLToPath(new URL('./fixtures/workflows/paging.ts', import.meta.url)),
        activities: createPagingActivities({ routingKey: ROUTING_KEY, eventsUrl: pagerduty.url }),
      });
    });

    after(async () => {
      await worker?.stop();
      await connection?.close();
    });

    test('429 then success: Temporal retries after the Retry-After delay, not the policy’s 100 ms', async () => {
      const id = incidentId();
      pagerduty.failNext(1, 429, '2');
      const result = await client.workflow.execute(pageUnderRetryWorkflow, {
        taskQueue: worker.taskQueue,
        workflowId: `paging-429-${randomUUID()}`,
        args: [
          {
            page: { incidentId: id, summary: 's', severity: 'P0', source: 'src' },
            maximumAttempts: 5,
            initialIntervalMs: 100,
          },
        ],
        workflowExecutionTimeout: '60 seconds',
      });
      assert.equal(result.dedupKey, id);
      const events = eventsFor(id);
      assert.deepEqual(
        events.map((e) => e.status),
        [429, 202],
      );
      const gap = events[1]!.at - events[0]!.at;
      assert.ok(gap >= 1900 && gap < 10_000, `retried after ${gap} ms`);
      console.log(`429 → retry after ${gap} ms (Retry-After: 2, policy initialInterval 100 ms)`);
    });

    test('400 is not retried even with attempts to spare', async () => {
      const id = incidentId();
      const err = await failure(
        client.workflow.execute(pageUnderRetryWorkflow, {
          taskQueue: worker.taskQueue,
          workflowId: `paging-400-${randomUUID()}`,
          // An empty source is an invalid event: PagerDuty answers 400.
          args: [
            {
              page: { incidentId: id, summary: 's', severity: 'P0', source: '' },
              maximumAttempts: 5,
              initialIntervalMs: 100,
            },
          ],
          workflowExecutionTimeout: '60 seconds',
        }),
      );
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof ActivityFailure);
      const cause = err.cause.cause;
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, ErrorType.PROVIDER_REJECTED);
      assert.equal(cause.nonRetryable, true);
      assert.match(cause.message, /'payload.source' is missing or blank/);
      assert.equal(eventsFor(id).length, 1, 'one attempt only');
    });
  },
);
