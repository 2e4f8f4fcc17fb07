/**
 * Test bed component: Debian's `prometheus-alertmanager` (0.25) on loopback, one per test run,
 * with webhook receivers configured the way users configure them for Firebreak (bearer token,
 * basic auth, a max_alerts cap), and short group_wait / group_interval / repeat_interval so a
 * test sees grouping, repeats and resolutions in seconds.
 *
 * Test files each run their own ingress on a port of their own, so every receiver points at a
 * relay in this process: a test registers a sink (`PUT <relay>/sinks/<name>` with `{ "url" }`),
 * labels its alerts `sink="<name>"` (a group_by label, so a group never mixes sinks), and the relay
 * forwards each notification byte for byte — headers included — to that URL, answering
 * Alertmanager with the ingress's own status so retries behave as in production. Notifications
 * for unknown sinks are answered 200 and dropped (alerts of finished tests).
 *
 * Standalone: `node --import tsx test/bed/alertmanager.ts [--for SECONDS]` prints the env and
 * runs until interrupted (or SECONDS, default 3600).
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runStandalone, type BedComponent, type BedOptions } from './component';
import { freePort } from './ports';
import { closeServer, launchServer, listenOnLoopback, readBody } from './process';

/** Credentials the bed's receivers send; tests give the ingress the same ones. */
export const BED_WEBHOOK_TOKEN = 'firebreak-bed-token-5f2c';
export const BED_WEBHOOK_BASIC_AUTH = 'alertmanager:bed-password-9a1e';
/** Receiver names with a dot, the spelling older Alertmanagers sent regex-escaped. */
export const BED_RECEIVERS = { bearer: 'firebreak.bearer', basic: 'firebreak.basic', capped: 'firebreak.capped' };
export const BED_TIMINGS = { groupWaitSeconds: 1, groupIntervalSeconds: 2, repeatIntervalSeconds: 6 };
/** With label `auth="basic"` alerts go to the basic-auth receiver; with `cap="1"` to one sending at most one alert. */
export const BED_ROUTING_LABELS = { basicAuth: { auth: 'basic' }, capped: { cap: '1' } };

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const FORWARD_TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function startAlertmanager(opts: BedOptions): Promise<BedComponent> {
  const binary = process.env.FIREBREAK_ALERTMANAGER_BIN ?? 'prometheus-alertmanager';
  const dir = join(opts.workDir, 'alertmanager');
  await mkdir(join(dir, 'data'), { recursive: true });

  const relay = new WebhookRelay(opts.log);
  const relayUrl = await relay.start();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const [user, password] = splitBasic(BED_WEBHOOK_BASIC_AUTH);
  const { groupWaitSeconds, groupIntervalSeconds, repeatIntervalSeconds } = BED_TIMINGS;

  const config = [
    'global:',
    '  resolve_timeout: 30s',
    'route:',
    `  receiver: ${BED_RECEIVERS.bearer}`,
    "  group_by: ['sink', 'alertname', 'namespace']",
    `  group_wait: ${groupWaitSeconds}s`,
    `  group_interval: ${groupIntervalSeconds}s`,
    `  repeat_interval: ${repeatIntervalSeconds}s`,
    '  routes:',
    `    - receiver: ${BED_RECEIVERS.basic}`,
    `      matchers: ['auth="basic"']`,
    `    - receiver: ${BED_RECEIVERS.capped}`,
    `      matchers: ['cap="1"']`,
    'receivers:',
    `  - name: ${BED_RECEIVERS.bearer}`,
    '    webhook_configs:',
    `      - url: ${relayUrl}/alertmanager`,
    '        send_resolved: true',
    '        http_config:',
    '          authorization:',
    '            type: Bearer',
    `            credentials: ${BED_WEBHOOK_TOKEN}`,
    `  - name: ${BED_RECEIVERS.basic}`,
    '    webhook_configs:',
    `      - url: ${relayUrl}/alertmanager`,
    '        send_resolved: true',
    '        http_config:',
    '          basic_auth:',
    `            username: ${user}`,
    `            password: ${password}`,
    `  - name: ${BED_RECEIVERS.capped}`,
    '    webhook_configs:',
    `      - url: ${relayUrl}/alertmanager`,
    '        send_resolved: true',
    '        max_alerts: 1',
    '        http_config:',
    '          authorization:',
    '            type: Bearer',
    `            credentials: ${BED_WEBHOOK_TOKEN}`,
    '',
  ].join('\n');
  const configPath = join(dir, 'alertmanager.yml');
  await writeFile(configPath, config);

  const { stop } = await launchServer({
    name: 'alertmanager',
    binary,
    args: [
      `--config.file=${configPath}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // No gossip: an empty cluster address turns clustering off instead of binding 0.0.0.0:9094.
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    ready: url,
    readyTimeoutMs: READY_TIMEOUT_MS,
    stopTimeoutMs: STOP_TIMEOUT_MS,
    alsoStop: () => relay.stop(),
  });
  opts.log(`alertmanager ready at ${url}, webhooks relayed through ${relayUrl}`);
  return {
    env: {
      FIREBREAK_TEST_ALERTMANAGER_URL: url,
      FIREBREAK_TEST_ALERTMANAGER_RELAY_URL: relayUrl,
      FIREBREAK_TEST_ALERTMANAGER_WEBHOOK_TOKEN: BED_WEBHOOK_TOKEN,
      FIREBREAK_TEST_ALERTMANAGER_WEBHOOK_BASIC_AUTH: BED_WEBHOOK_BASIC_AUTH,
    },
    stop,
  };
}

function splitBasic(pair: string): [string, string] {
  const colon = pair.indexOf(':');
  return [pair.slice(0, colon), pair.slice(colon + 1)];
}

/** Forwards Alertmanager's webhook posts to the URL a test registered for the group's `sink` label. */
export class WebhookRelay {
  private server?: Server;
  private readonly sinks = new Map<string, string>();

  constructor(private readonly log: (msg: string) => void) {}

  async start(): Promise<string> {
    const server = createServer((request, response) => {
      this.handle(request, response).catch((err: unknown) => {
        this.log(`relay: ${(err as Error).message}`);
        if (!response.headersSent) response.writeHead(502).end();
      });
    });
    server.requestTimeout = 30_000;
    this.server = server;
    return `http://127.0.0.1:${await listenOnLoopback(server)}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await closeServer(server);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://relay').pathname;
    const body = await readBody(request, MAX_BODY_BYTES);
    const sinkPath = /^\/sinks\/([A-Za-z0-9_.-]{1,100})$/.exec(path);
    if (sinkPath) {
      const name = sinkPath[1]!;
      if (request.method === 'DELETE') {
        this.sinks.delete(name);
        response.writeHead(204).end();
        return;
      }
      if (request.method !== 'PUT') {
        response.writeHead(405).end();
        return;
      }
      const target = (JSON.parse(body.toString() || '{}') as { url?: unknown }).url;
      if (typeof target !== 'string' || !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+\//.test(target)) {
        response.writeHead(400, { 'content-type': 'text/plain' }).end('url must be an http URL on loopback');
        return;
      }
      this.sinks.set(name, target);
      response.writeHead(204).end();
      return;
    }
    if (path !== '/alertmanager' || request.method !== 'POST') {
      response.writeHead(404).end();
      return;
    }
    let sink: string | undefined;
    try {
      const parsed = JSON.parse(body.toString()) as { groupLabels?: Record<string, string> };
      sink = parsed.groupLabels?.sink;
    } catch {
      sink = undefined;
    }
    const target = sink === undefined ? undefined : this.sinks.get(sink);
    if (!target) {
      response.writeHead(200, { 'content-type': 'text/plain' }).end(`no sink ${sink ?? '(none)'}: dropped`);
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type', 'user-agent']) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    try {
      const forwarded = await fetch(target, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
      });
      const answer = Buffer.from(await forwarded.arrayBuffer());
      response
        .writeHead(forwarded.status, { 'content-type': forwarded.headers.get('content-type') ?? 'text/plain' })
        .end(answer);
    } catch (err) {
      // The test's ingress is gone or slow: a 5xx makes Alertmanager retry, as a real outage would.
      response.writeHead(502, { 'content-type': 'text/plain' }).end(`forwarding failed: ${(err as Error).message}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers for test files (they run in other processes and reach the bed through its env).

export interface BedAlertmanager {
  url: string;
  relayUrl: string;
  token: string;
  basicAuth: string;
}

export function bedAlertmanager(): BedAlertmanager {
  const url = process.env.FIREBREAK_TEST_ALERTMANAGER_URL;
  const relayUrl = process.env.FIREBREAK_TEST_ALERTMANAGER_RELAY_URL;
  if (!url || !relayUrl) {
    throw new Error('FIREBREAK_TEST_ALERTMANAGER_URL is not set: run with `npm test -- --bed temporal,alertmanager`');
  }
  return {
    url,
    relayUrl,
    token: process.env.FIREBREAK_TEST_ALERTMANAGER_WEBHOOK_TOKEN ?? BED_WEBHOOK_TOKEN,
    basicAuth: process.env.FIREBREAK_TEST_ALERTMANAGER_WEBHOOK_BASIC_AUTH ?? BED_WEBHOOK_BASIC_AUTH,
  };
}

/** Routes the bed's notifications for groups labelled `sink="<name>"` to `url`. */
export async function registerSink(bed: BedAlertmanager, name: string, url: string): Promise<() => Promise<void>> {
  const res = await fetch(`${bed.relayUrl}/sinks/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url }),
    signal: AbortSignal.timeout(5_000),
  });
  if (res.status !== 204) throw new Error(`registering sink ${name}: HTTP ${res.status} ${await res.text()}`);
  return async () => {
    await fetch(`${bed.relayUrl}/sinks/${name}`, { method: 'DELETE', signal: AbortSignal.timeout(5_000) });
  };
}

/**
 * `amtool alert add`: fires (or, with an `end` in the past, resolves) one alert. The real CLI, so
 * the alert enters Alertmanager the way a Prometheus would post it.
 */
export async function amtoolAlert(
  bed: BedAlertmanager,
  labels: Record<string, string>,
  options: { annotations?: Record<string, string>; start?: Date; end?: Date } = {},
): Promise<void> {
  const args = ['alert', 'add', `--alertmanager.url=${bed.url}`];
  for (const [name, value] of Object.entries(options.annotations ?? {})) args.push(`--annotation=${name}=${value}`);
  // amtool 0.25 copies --end into startsAt when --start is absent: always say when it started.
  args.push(`--start=${(options.start ?? new Date()).toISOString()}`);
  if (options.end) args.push(`--end=${options.end.toISOString()}`);
  for (const [name, value] of Object.entries(labels)) args.push(`${name}=${value}`);
  await runAmtool(args);
}

export function runAmtool(args: string[], timeoutMs = 15_000): Promise<string> {
  const binary = process.env.FIREBREAK_AMTOOL_BIN ?? 'amtool';
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve(out) : reject(new Error(`amtool ${args.join(' ')}: ${code ?? signal}\n${out}`)),
    );
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runStandalone('alertmanager', startAlertmanager);
}
