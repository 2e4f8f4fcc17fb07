/**
 * response_url reports go over node:http with a keep-alive agent (ingress/slack/response-url.ts)
 * and keep the contract `fetch` gave them: JSON POST, one deadline over the whole exchange,
 * redirects followed as `fetch` follows them, the final status returned for the caller to judge.
 * The receiver is a loopback HTTP server standing in for Slack's hooks.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { postJson } from '../ingress/slack/response-url';

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  body: string;
}

const seen: Seen[] = [];
let connections = 0;
let server: http.Server;
let base: string;

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://hooks');
      seen.push({
        method: req.method ?? '',
        url: url.pathname,
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const redirect = /^\/redirect\/(\d+)$/.exec(url.pathname);
      if (redirect) {
        res.writeHead(Number(redirect[1]), { location: '/final' });
        return void res.end();
      }
      const hops = /^\/loop\/(\d+)$/.exec(url.pathname);
      if (hops) {
        res.writeHead(302, { location: `/loop/${Number(hops[1]) + 1}` });
        return void res.end();
      }
      if (url.pathname === '/no-location') return void res.writeHead(302).end();
      if (url.pathname === '/expired')
        return void res.writeHead(404, { 'content-type': 'text/plain' }).end('expired_url');
      if (url.pathname === '/silent') return; // never answers
      if (url.pathname === '/cut') {
        // The status, then the connection dropped halfway through the body.
        res.writeHead(200, { 'content-length': '100' });
        res.write('ok');
        return void setImmediate(() => res.socket?.destroy());
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('a report is a JSON POST, and reports share a kept-alive connection', async () => {
  seen.length = 0;
  const before = connections;
  const message = JSON.stringify({ response_type: 'in_channel', text: 'started' });
  assert.equal(await postJson(`${base}/final`, message, 5_000), 200);
  assert.equal(await postJson(`${base}/final`, message, 5_000), 200);
  assert.deepEqual(seen, [
    { method: 'POST', url: '/final', contentType: 'application/json', body: message },
    { method: 'POST', url: '/final', contentType: 'application/json', body: message },
  ]);
  assert.equal(connections - before, 1, 'the second post reused the first one’s connection');
});

test('redirects are followed as fetch follows them', async () => {
  for (const [status, method] of [
    [307, 'POST'],
    [308, 'POST'],
    [301, 'GET'],
    [302, 'GET'],
    [303, 'GET'],
  ] as const) {
    seen.length = 0;
    assert.equal(await postJson(`${base}/redirect/${status}`, '{"text":"x"}', 5_000), 200, `after ${status}`);
    const final = seen.at(-1)!;
    assert.equal(seen.length, 2, `one hop after ${status}`);
    assert.equal(final.url, '/final');
    assert.equal(final.method, method, `${status} continues as ${method}`);
    assert.equal(final.body, method === 'POST' ? '{"text":"x"}' : '', `${status}: body kept only for a POST`);
    assert.equal(final.contentType, method === 'POST' ? 'application/json' : undefined);
  }
  await assert.rejects(postJson(`${base}/loop/0`, '{}', 5_000), /more than 20 redirects/);
  assert.equal(await postJson(`${base}/no-location`, '{}', 5_000), 302, 'a redirect without Location is the answer');
});

test('the status is the answer: an expired URL’s 404, a body cut short after a 200', async () => {
  assert.equal(await postJson(`${base}/expired`, '{}', 5_000), 404);
  assert.equal(await postJson(`${base}/cut`, '{}', 5_000), 200);
});

test('one deadline over the exchange; only http and https', async () => {
  const started = performance.now();
  await assert.rejects(postJson(`${base}/silent`, '{}', 300), { name: 'TimeoutError' });
  const took = performance.now() - started;
  assert.ok(took >= 290 && took < 5_000, `rejected at the deadline (${Math.round(took)} ms)`);
  await assert.rejects(postJson('ftp://127.0.0.1/x', '{}', 5_000), /unsupported scheme ftp:/);
  await assert.rejects(postJson('not a url', '{}', 5_000), TypeError);
});
