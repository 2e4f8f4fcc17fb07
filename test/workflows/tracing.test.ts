/**
 * The workflow interceptors (workflows/interceptors.ts) load OpenTelemetry only for an incident
 * whose start carried a trace context. On the real dev server with typed fake activities: a traced
 * incident's workflow spans reach the worker's `exporter` sink under the trace id its start carried;
 * an untraced incident beside it exports nothing. And the interceptor methods wrapped before the
 * module loads are every method OpenTelemetry's interceptors have in this SDK.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client, type Connection, type WorkflowClientInterceptor } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import * as otel from '@temporalio/interceptors-opentelemetry/lib/workflow';
import { TRACE_HEADER, TRACED_METHODS } from '../../workflows/interceptors';
import { createSinks } from '../../worker/sinks';
import { connectTestClient, runTestWorker, testNamespace, uniqueTaskQueue, type TestWorker } from '../bed/worker';
import { FakeWorld } from './fakes';
import { fastPolicy, gatePending, startIncident, uniqueTarget, waitForRecord } from './harness';

interface ExportedSpan {
  name: string;
  spanContext: { traceId: string; spanId: string };
}

describe('workflow tracing, loaded on demand', () => {
  const world = new FakeWorld();
  const exported: { workflowId: string; span: ExportedSpan }[] = [];
  let connection: Connection;
  let client: Client;
  let tracedClient: Client;
  let worker: TestWorker;
  const traceId = randomBytes(16).toString('hex');

  before(async () => {
    ({ client, connection } = await connectTestClient());
    // What the client's OpenTelemetry interceptor sends when a span is active: a W3C traceparent.
    const traced: WorkflowClientInterceptor = {
      start: (input, next) =>
        next({
          ...input,
          headers: {
            ...input.headers,
            [TRACE_HEADER]: defaultPayloadConverter.toPayload({
              traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
            }),
          },
        }),
    };
    tracedClient = new Client({ connection, namespace: testNamespace(), interceptors: { workflow: [traced] } });
    worker = await runTestWorker({
      activities: world.activities(),
      taskQueue: uniqueTaskQueue('tracing'),
      sinks: {
        ...createSinks(),
        exporter: {
          export: {
            fn: (info, spans: ExportedSpan[]) => {
              for (const span of spans) exported.push({ workflowId: info.workflowId, span });
            },
            callDuringReplay: false,
          },
        },
      },
    });
  });

  after(async () => {
    await worker?.stop();
    await connection?.close();
  });

  test('a traced incident exports its spans under its trace id; an untraced one exports none', async () => {
    const policy = fastPolicy({ gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000 });
    const start = (c: Client) =>
      startIncident(c, worker.taskQueue, {
        runbook: 'emergency-rollback',
        targets: [uniqueTarget('tracing')],
        params: { healthUrl: 'http://tracing.shop.svc/health' },
        policy,
      });
    const [traced, untraced] = await Promise.all([start(tracedClient), start(client)]);
    await Promise.all([traced, untraced].map((h) => waitForRecord(h, gatePending('confirm-rollback'))));
    const ofTraced = exported.filter((e) => e.workflowId === traced.workflowId);
    assert.ok(ofTraced.length > 0, 'the traced incident exported no span');
    assert.deepEqual([...new Set(ofTraced.map((e) => e.span.spanContext.traceId))], [traceId]);
    assert.ok(
      ofTraced.some((e) => e.span.name.startsWith('StartActivity')),
      `no activity span: ${ofTraced.map((e) => e.span.name).join(', ')}`,
    );
    assert.deepEqual(
      exported.filter((e) => e.workflowId === untraced.workflowId).map((e) => e.span.name),
      [],
    );
    await Promise.all([traced, untraced].map((h) => h.terminate('test finished')));
  });

  test('every method of OpenTelemetry’s workflow interceptors is wrapped', () => {
    const methods = (cls: { prototype: object }) =>
      Object.getOwnPropertyNames(cls.prototype).filter((name) => name !== 'constructor');
    assert.deepEqual(
      {
        inbound: methods(otel.OpenTelemetryInboundInterceptor),
        outbound: methods(otel.OpenTelemetryOutboundInterceptor),
        internals: methods(otel.OpenTelemetryInternalsInterceptor),
      },
      TRACED_METHODS,
    );
  });
});
