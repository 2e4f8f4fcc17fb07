/**
 * The HTTP app's edges, with no Temporal behind it: what a failing handler shows the caller (a
 * request id, never internals), that the id is unique and reaches the log, and that client errors
 * still say what is wrong.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { parseEnv } from '../config/env';
import { createLogger } from '../config/logger';
import { EMPTY_FILE_CONFIG } from '../config/file';
import { DEFAULT_POLICY } from '../common/incident';
import { BODY_LIMIT_BYTES, buildApp } from '../ingress/app';

const logged: string[] = [];
let app: FastifyInstance;

/** An upstream client's failure: carries the upstream's status and a message that must stay inside. */
class UpstreamError extends Error {
  readonly statusCode = 404;
}

/** An app with nothing behind it: these routes fail before reaching Temporal. */
const detachedDeps = {
  client: {} as Client,
  env: parseEnv({}),
  config: EMPTY_FILE_CONFIG,
  policy: DEFAULT_POLICY,
  health: async () => ({
    ok: true,
    temporal: { ok: true, address: 'none', namespace: 'default' },
    worker: { ok: true, state: 'RUNNING', taskQueue: 'none' },
  }),
};

before(async () => {
  app = await buildApp({
    ...detachedDeps,
    // The app's pino logger, its JSON lines collected here instead of stderr.
    logger: createLogger({ level: 'info', destination: { write: (line: string) => void logged.push(line) } }),
    routes: [
      (scope) => {
        scope.post('/boom', async () => {
          throw new Error('database password is hunter2');
        });
        scope.post('/upstream', async () => {
          throw new UpstreamError('GET http://10.0.0.7:6443/apis/secret-path answered 404');
        });
        scope.post('/echo', async (request) => ({ received: request.body }));
      },
    ],
  });
});

after(() => app?.close());

test('a failing handler answers 500 with a request id only; the id is in a header and in the log', async () => {
  const first = await app.inject({
    method: 'POST',
    url: '/boom',
    payload: '{}',
    headers: { 'content-type': 'application/json' },
  });
  const second = await app.inject({ method: 'POST', url: '/boom' });
  for (const res of [first, second]) {
    assert.equal(res.statusCode, 500);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ['error', 'requestId']);
    assert.equal(body.error, 'internal error');
    assert.doesNotMatch(res.body, /hunter2/);
    assert.equal(res.headers['x-request-id'], body.requestId);
    assert.ok(
      logged.some((line) => line.includes(body.requestId) && line.includes('hunter2')),
      'the operator finds the failure by its id',
    );
  }
  assert.notEqual(first.json().requestId, second.json().requestId);
  assert.match(first.json().requestId, /^[0-9a-f-]{36}$/, 'not a per-process counter that repeats after a restart');
});

test("an upstream client's 4xx is an internal failure: 500, its message hidden", async () => {
  const res = await app.inject({ method: 'POST', url: '/upstream' });
  assert.equal(res.statusCode, 500);
  assert.equal(res.json().error, 'internal error');
  assert.doesNotMatch(res.body, /10\.0\.0\.7|secret-path/);
});

test('client errors still say what is wrong, with the request id header', async () => {
  const json = { 'content-type': 'application/json' };
  const broken = await app.inject({ method: 'POST', url: '/echo', payload: '{"a":', headers: json });
  assert.equal(broken.statusCode, 400);
  assert.match(broken.json().error, /not valid JSON/);
  assert.ok(broken.headers['x-request-id']);

  const empty = await app.inject({ method: 'POST', url: '/echo', payload: '', headers: json });
  assert.equal(empty.statusCode, 400);
  assert.match(empty.json().error, /body is empty/);

  const huge = await app.inject({
    method: 'POST',
    url: '/echo',
    payload: JSON.stringify({ x: 'y'.repeat(BODY_LIMIT_BYTES) }),
    headers: json,
  });
  assert.equal(huge.statusCode, 413);
  assert.match(huge.json().error, /larger than/);

  const ok = await app.inject({ method: 'POST', url: '/echo', payload: '{"a":1}', headers: json });
  assert.deepEqual(ok.json(), { received: { a: 1 } });
});

test("/metrics: the app's own registry, with process and event-loop metrics, in the registry's content type", async () => {
  const echoes = (text: string) =>
    Number(/^firebreak_http_requests_total\{route="\/echo",status="200"\} (\d+)$/m.exec(text)?.[1] ?? 0);
  const before = echoes((await app.inject({ method: 'GET', url: '/metrics' })).body);
  const echoed = await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } });
  assert.equal(echoed.statusCode, 200);
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4; charset=utf-8/);
  assert.equal(echoes(res.body), before + 1);
  assert.match(res.body, /^firebreak_http_request_duration_seconds_count\{route="\/echo"\} \d+$/m);
  assert.match(res.body, /^nodejs_eventloop_lag_seconds \d/m, 'event-loop lag');
  assert.match(res.body, /^process_cpu_user_seconds_total \d/m, 'process metrics');

  // A second app in the same process has its own registry: no name collision, no shared counts.
  const other = await buildApp({
    ...detachedDeps,
    logger: createLogger({ level: 'error', destination: { write: () => undefined } }),
  });
  try {
    const fresh = await other.inject({ method: 'GET', url: '/metrics' });
    assert.equal(fresh.statusCode, 200);
    assert.doesNotMatch(fresh.body, /route="\/echo"/);
    assert.match(fresh.body, /^nodejs_eventloop_lag_seconds \d/m);
  } finally {
    await other.close();
  }
});
