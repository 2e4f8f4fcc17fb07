/**
 * HTTP health checks: a GET and a verdict (healthy, unhealthy, unreachable), never a throw for an
 * unhealthy target. Redirects are followed by hand and no hop may reach a cloud metadata service
 * (common/network.ts); the body is read up to a bound within one deadline.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../common/errors';
import { forbiddenHealthCheckHost } from '../../common/network';
import type { HealthCheckInput, HealthCheckResult } from './types';

const DEFAULT_HEALTH_TIMEOUT_MS = 5000;
const MAX_HEALTH_TIMEOUT_MS = 60_000;
const BODY_EXCERPT_CHARS = 300;
const BODY_READ_LIMIT_BYTES = 64 * 1024;
/** As many as fetch's own `redirect: 'follow'` would take is more than a health endpoint needs. */
const MAX_HEALTH_REDIRECTS = 5;

/**
 * Why a URL's host — as written, or any address it resolves to — is off limits for a health check.
 * An unresolvable name is left to the fetch, which reports it as unreachable.
 */
async function forbiddenDestination(url: URL): Promise<string | undefined> {
  const literal = forbiddenHealthCheckHost(url.hostname);
  if (literal) return literal;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host)) return undefined;
  const addresses = await lookup(host, { all: true }).catch(() => []);
  for (const { address } of addresses) {
    const reason = forbiddenHealthCheckHost(address);
    if (reason) return `${url.hostname} (resolves to ${reason})`;
  }
  return undefined;
}

export function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
    return err.message;
  }
  return String(err);
}

export function createHealthCheck(doFetch: typeof fetch) {
  /** Follows redirects by hand, so none can lead the check to a metadata service (common/network.ts). */
  async function fetchFollowingSafeRedirects(url: URL, signal: AbortSignal): Promise<Response> {
    let current = url;
    for (let hop = 0; ; hop++) {
      const res = await doFetch(current, { method: 'GET', redirect: 'manual', signal, headers: { accept: '*/*' } });
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location || hop >= MAX_HEALTH_REDIRECTS) return res;
      await res.body?.cancel().catch(() => undefined);
      const next = new URL(location, current);
      const forbidden =
        next.protocol === 'http:' || next.protocol === 'https:'
          ? await forbiddenDestination(next)
          : `${next.protocol} (not HTTP)`;
      if (forbidden) throw new Error(`redirected to ${next.origin}, which health checks may not reach: ${forbidden}`);
      current = next;
    }
  }

  async function checkHealth(input: HealthCheckInput): Promise<HealthCheckResult> {
    const timeoutMs = Math.min(Math.max(input.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS, 1), MAX_HEALTH_TIMEOUT_MS);
    let parsedUrl: URL;
    try {
      parsedUrl = new URL(input.url);
    } catch {
      throw ApplicationFailure.nonRetryable(`not a URL: ${JSON.stringify(input.url)}`, ErrorType.INVALID_INPUT);
    }
    if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') {
      throw ApplicationFailure.nonRetryable(
        `health checks speak HTTP(S), not ${parsedUrl.protocol}`,
        ErrorType.INVALID_INPUT,
      );
    }
    const forbidden = await forbiddenDestination(parsedUrl);
    if (forbidden)
      throw ApplicationFailure.nonRetryable(
        `health checks may not reach this host: ${forbidden}`,
        ErrorType.INVALID_INPUT,
      );
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    // One signal for the whole exchange: a server that sends headers then stalls the body is unhealthy too.
    const signal = AbortSignal.timeout(timeoutMs);
    let status: number | undefined;
    try {
      const res = await fetchFollowingSafeRedirects(parsedUrl, signal);
      status = res.status;
      const body = await readLimited(res, BODY_READ_LIMIT_BYTES);
      const latencyMs = elapsed();
      const bodyExcerpt = excerpt(body);
      const healthy = input.expectStatus !== undefined ? status === input.expectStatus : status >= 200 && status < 300;
      const expected = input.expectStatus !== undefined ? `expected ${input.expectStatus}` : 'expected 2xx';
      const verdict = healthy
        ? `healthy: HTTP ${status} in ${latencyMs} ms`
        : `unhealthy: HTTP ${status} (${expected}) in ${latencyMs} ms${bodyExcerpt ? `: ${bodyExcerpt.slice(0, 120)}` : ''}`;
      return { url: input.url, healthy, status, latencyMs, bodyExcerpt, verdict };
    } catch (err) {
      const latencyMs = elapsed();
      const timedOut = signal.aborted;
      const error = timedOut ? `timed out after ${timeoutMs} ms` : describeFetchError(err);
      const verdict = timedOut
        ? `unhealthy: no complete answer within ${timeoutMs} ms${status ? ` (HTTP ${status} then stalled)` : ''}`
        : `unreachable: ${error}`;
      return { url: input.url, healthy: false, status, latencyMs, bodyExcerpt: '', error, verdict };
    }
  }

  return checkHealth;
}

async function readLimited(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, limit));
}

function excerpt(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > BODY_EXCERPT_CHARS ? `${flat.slice(0, BODY_EXCERPT_CHARS)}…` : flat;
}
