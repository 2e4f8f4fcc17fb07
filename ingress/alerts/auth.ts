/**
 * Who may post alerts. Alertmanager's `http_config` sends either `Authorization: Bearer <token>`
 * (FIREBREAK_WEBHOOK_TOKEN) or basic auth (FIREBREAK_WEBHOOK_BASIC_AUTH, `user:password`); either
 * one configured is accepted. Grafana can send the same headers, or sign the body with HMAC-SHA256
 * (FIREBREAK_GRAFANA_HMAC_SECRET), which then is required and sufficient. Every comparison is
 * constant-time over digests, so neither content nor length leaks through timing.
 *
 * Credentials are judged on the headers, before any of the body is read, so an unauthenticated
 * sender cannot make the ingress buffer anything. Grafana's HMAC covers the body and is checked
 * after it; its headers are prechecked first (present, well-formed, fresh), and routes.ts bounds
 * how many such bodies may be buffered at once.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Env } from '../../config/env';

export const GRAFANA_SIGNATURE_HEADER = 'x-grafana-alerting-signature';
/** Same replay window as Slack's: a signed request older or newer than this is refused. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

export type AuthResult = { ok: true; method: string } | { ok: false; reason: string };

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Equal-length digests first, so the comparison never short-circuits on length. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}

export interface WebhookAuthConfig {
  token?: string;
  basic?: string;
  grafanaHmacSecret?: string;
  grafanaTimestampHeader?: string;
}

export function webhookAuthConfig(env: Env): WebhookAuthConfig {
  return {
    token: env.FIREBREAK_WEBHOOK_TOKEN,
    basic: env.FIREBREAK_WEBHOOK_BASIC_AUTH,
    grafanaHmacSecret: env.FIREBREAK_GRAFANA_HMAC_SECRET,
    grafanaTimestampHeader: env.FIREBREAK_GRAFANA_HMAC_TIMESTAMP_HEADER,
  };
}

/** True when nothing is configured: the webhooks are then open (said once at start-up). */
export function webhooksUnauthenticated(config: WebhookAuthConfig): boolean {
  return !config.token && !config.basic;
}

/** Bearer token or basic auth, whichever the request carries, checked against what is configured. */
export function checkCredentials(config: WebhookAuthConfig, headers: Headers): AuthResult {
  if (webhooksUnauthenticated(config)) return { ok: true, method: 'none configured' };
  const authorization = header(headers, 'authorization')?.trim();
  if (!authorization) return { ok: false, reason: 'missing Authorization header (bearer token or basic auth)' };
  const space = authorization.indexOf(' ');
  const scheme = (space > 0 ? authorization.slice(0, space) : authorization).toLowerCase();
  const credentials = space > 0 ? authorization.slice(space + 1).trim() : '';
  if (scheme === 'bearer') {
    if (!config.token) return { ok: false, reason: 'bearer tokens are not accepted here; use basic auth' };
    return constantTimeEqual(credentials, config.token)
      ? { ok: true, method: 'bearer' }
      : { ok: false, reason: 'invalid bearer token' };
  }
  if (scheme === 'basic') {
    if (!config.basic) return { ok: false, reason: 'basic auth is not accepted here; use a bearer token' };
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    return constantTimeEqual(decoded, config.basic)
      ? { ok: true, method: 'basic' }
      : { ok: false, reason: 'invalid basic auth credentials' };
  }
  return { ok: false, reason: `unsupported Authorization scheme ${JSON.stringify(scheme)}; use Bearer or Basic` };
}

/**
 * What can be judged of a Grafana signature before the body arrives: the header is there and is
 * a hex SHA-256, and the timestamp (when configured) is Unix seconds within MAX_CLOCK_SKEW_SECONDS
 * in either direction — so unsigned and replayed requests are refused without reading a byte.
 */
export function precheckGrafanaSignature(
  config: WebhookAuthConfig,
  headers: Headers,
  nowMs = Date.now(),
): { ok: true; signature: string; timestamp?: string } | { ok: false; reason: string } {
  if (!config.grafanaHmacSecret) return { ok: false, reason: 'no Grafana HMAC secret is configured' };
  const signature = header(headers, GRAFANA_SIGNATURE_HEADER)?.trim().toLowerCase();
  if (!signature) return { ok: false, reason: `missing ${GRAFANA_SIGNATURE_HEADER} header` };
  if (!/^[0-9a-f]{64}$/.test(signature)) {
    return { ok: false, reason: `${GRAFANA_SIGNATURE_HEADER} must be a hex HMAC-SHA256` };
  }
  if (!config.grafanaTimestampHeader) return { ok: true, signature };
  const timestamp = header(headers, config.grafanaTimestampHeader)?.trim();
  if (!timestamp) return { ok: false, reason: `missing ${config.grafanaTimestampHeader} header` };
  if (!/^\d{1,12}$/.test(timestamp))
    return { ok: false, reason: `${config.grafanaTimestampHeader} must be Unix seconds` };
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > MAX_CLOCK_SKEW_SECONDS) {
    return { ok: false, reason: `stale signature: timestamp more than ${MAX_CLOCK_SKEW_SECONDS}s from now` };
  }
  return { ok: true, signature, timestamp };
}

/**
 * Grafana's signature: hex HMAC-SHA256 of the raw body, or of `<timestamp>:<body>` when a
 * timestamp header is configured, so a captured request cannot be replayed later.
 */
export function checkGrafanaSignature(
  config: WebhookAuthConfig,
  headers: Headers,
  rawBody: string,
  nowMs = Date.now(),
): AuthResult {
  const pre = precheckGrafanaSignature(config, headers, nowMs);
  if (!pre.ok) return pre;
  const signed = pre.timestamp === undefined ? rawBody : `${pre.timestamp}:${rawBody}`;
  const expected = createHmac('sha256', config.grafanaHmacSecret ?? '')
    .update(signed)
    .digest('hex');
  return constantTimeEqual(pre.signature, expected)
    ? { ok: true, method: 'grafana-hmac' }
    : { ok: false, reason: 'invalid Grafana signature' };
}

/** Grafana with a signing secret is judged on the body; everything else on its headers alone. */
export function signedByBody(source: 'alertmanager' | 'grafana', config: WebhookAuthConfig): boolean {
  return source === 'grafana' && config.grafanaHmacSecret !== undefined;
}
