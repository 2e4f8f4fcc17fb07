/**
 * A scrape target whose series the tests set over loopback HTTP, so Prometheus scrapes values we
 * chose (and `up` tells the truth about a target that stops answering).
 *
 *   GET  /metrics                    Prometheus text exposition of the current gauges
 *   POST /set    {name, labels, value, help?}   set (or create) one gauge sample
 *   POST /delete {name, labels}      drop one sample; the series goes stale in Prometheus
 *   POST /down   {seconds}           answer /metrics with 503 for that long (bounded to 300 s)
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { closeServer, listenOnLoopback } from './process';

interface Gauge {
  name: string;
  labels: Record<string, string>;
  value: number;
  help?: string;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const MAX_BODY_BYTES = 64 * 1024;
const MAX_DOWN_SECONDS = 300;

export class MetricsTarget {
  private readonly gauges = new Map<string, Gauge>();
  private server?: Server;
  private downUntil = 0;
  /** Base URL once started, e.g. http://127.0.0.1:40123 */
  url = '';

  async start(host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req)
        .then(({ status, body, contentType }) => {
          res.writeHead(status, { 'content-type': contentType ?? 'application/json' });
          res.end(body);
        })
        .catch((err: unknown) => {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
        });
    });
    this.server = server;
    const port = await listenOnLoopback(server, host);
    this.url = `http://${host}:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await closeServer(server);
  }

  set(name: string, labels: Record<string, string>, value: number, help?: string): void {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    for (const label of Object.keys(labels)) {
      if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new Error(`invalid label name ${label}`);
    }
    if (!Number.isFinite(value)) throw new Error('value must be a finite number');
    this.gauges.set(seriesKey(name, labels), { name, labels: { ...labels }, value, help });
  }

  delete(name: string, labels: Record<string, string>): boolean {
    return this.gauges.delete(seriesKey(name, labels));
  }

  render(): string {
    const byName = new Map<string, Gauge[]>();
    for (const gauge of this.gauges.values()) {
      byName.set(gauge.name, [...(byName.get(gauge.name) ?? []), gauge]);
    }
    const lines: string[] = [];
    for (const [name, gauges] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
      const help = gauges.find((g) => g.help)?.help;
      if (help) lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      lines.push(`# TYPE ${name} gauge`);
      for (const gauge of gauges) lines.push(`${name}${renderLabels(gauge.labels)} ${gauge.value}`);
    }
    return lines.join('\n') + '\n';
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: string; contentType?: string }> {
    const path = new URL(req.url ?? '/', 'http://target').pathname;
    if (req.method === 'GET' && path === '/metrics') {
      if (Date.now() < this.downUntil) return { status: 503, body: 'down on purpose\n', contentType: 'text/plain' };
      return { status: 200, body: this.render(), contentType: 'text/plain; version=0.0.4' };
    }
    if (req.method !== 'POST') return { status: 404, body: JSON.stringify({ error: 'not found' }) };
    const body = await readJson(req);
    if (path === '/set') {
      const { name, labels, value, help } = body as {
        name: string;
        labels?: Record<string, string>;
        value: number;
        help?: unknown;
      };
      this.set(name, labels ?? {}, value, typeof help === 'string' ? help : undefined);
      return { status: 200, body: JSON.stringify({ ok: true }) };
    }
    if (path === '/delete') {
      const { name, labels } = body as { name: string; labels?: Record<string, string> };
      return { status: 200, body: JSON.stringify({ ok: this.delete(name, labels ?? {}) }) };
    }
    if (path === '/down') {
      const seconds = Math.min(Math.max(Number((body as { seconds?: number }).seconds ?? 0), 0), MAX_DOWN_SECONDS);
      this.downUntil = Date.now() + seconds * 1000;
      return { status: 200, body: JSON.stringify({ ok: true, downUntil: new Date(this.downUntil).toISOString() }) };
    }
    return { status: 404, body: JSON.stringify({ error: 'not found' }) };
  }
}

/** Sets a gauge on a target started by the bed (another process) over its HTTP API. */
export async function setTargetGauge(
  targetUrl: string,
  name: string,
  labels: Record<string, string>,
  value: number,
): Promise<void> {
  const res = await fetch(`${targetUrl}/set`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, labels, value }),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`metrics target refused the gauge: ${res.status} ${await res.text()}`);
}

function seriesKey(name: string, labels: Record<string, string>): string {
  return `${name}${renderLabels(labels)}`;
}

function renderLabels(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (pairs.length === 0) return '';
  const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
  return `{${pairs.map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}`;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}
