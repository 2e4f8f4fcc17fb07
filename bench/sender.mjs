/**
 * The alert benchmark's sender (bench/alerts.ts): a process of its own that posts notifications to
 * the ingress, `concurrency` at a time, as Alertmanager's replicas would from elsewhere — so the
 * HTTP client's work neither starves the ingress and the worker in the benchmark's process nor
 * counts against them. Plain JavaScript (no tsx, no project imports): it starts in milliseconds.
 *
 * Messages from the parent:
 *   { type: 'load', url, headers, bodies }            the notifications, once
 *   { type: 'send', id, indices, concurrency }        posts bodies[i] for each i, at most `concurrency` at once
 * Answers: { type: 'sent', id, results: [{ i, status, ms }] } (status 0: no answer).
 */
import { Buffer } from 'node:buffer';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { URL } from 'node:url';

// Kept-alive connections, one per request in flight, as each replica keeps its own to the receiver.
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
let url = new URL('http://127.0.0.1');
let headers = {};
let bodies = [];

function post(i) {
  const started = performance.now();
  const body = Buffer.from(bodies[i]);
  return new Promise((resolve) => {
    const done = (status) => resolve({ i, status, ms: performance.now() - started });
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': body.length } },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () => done(res.statusCode ?? 0));
        res.on('error', () => done(0));
      },
    );
    req.on('error', () => done(0));
    req.end(body);
  });
}

async function send(indices, concurrency) {
  const results = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, indices.length) }, async () => {
      for (let k = next++; k < indices.length; k = next++) results.push(await post(indices[k]));
    }),
  );
  return results;
}

process.on('message', (message) => {
  if (message.type === 'load') {
    url = new URL(message.url);
    headers = message.headers;
    bodies = message.bodies;
    process.send({ type: 'loaded' });
  } else if (message.type === 'send') {
    void send(message.indices, message.concurrency).then((results) =>
      process.send({ type: 'sent', id: message.id, results }),
    );
  }
});
process.on('disconnect', () => process.exit(0));
