/**
 * Slack request verification, done on the exact bytes before anything is parsed: `v0=` + hex
 * HMAC-SHA256 of `v0:<timestamp>:<raw body>` with the signing secret, compared in constant time,
 * and a timestamp no more than 300 s away from now in either direction (a future timestamp is as
 * suspicious as an old one: it would let a captured request be replayed later).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SLACK_TIMESTAMP_TOLERANCE_SECONDS = 300;

export type VerifyResult = { ok: true } | { ok: false; reason: string };

export function verifySlackSignature(options: {
  signingSecret: string;
  timestamp: string | string[] | undefined;
  signature: string | string[] | undefined;
  rawBody: string;
  nowMs?: number;
  toleranceSeconds?: number;
}): VerifyResult {
  const { timestamp, signature } = options;
  if (typeof timestamp !== 'string' || typeof signature !== 'string') {
    return { ok: false, reason: 'missing X-Slack-Request-Timestamp or X-Slack-Signature header' };
  }
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'X-Slack-Request-Timestamp is not a Unix time' };
  const skew = Math.abs((options.nowMs ?? Date.now()) / 1000 - Number(timestamp));
  if (skew > (options.toleranceSeconds ?? SLACK_TIMESTAMP_TOLERANCE_SECONDS)) {
    return { ok: false, reason: 'X-Slack-Request-Timestamp is more than 5 minutes away from now' };
  }
  const match = /^v0=([0-9a-f]{64})$/.exec(signature);
  if (!match) return { ok: false, reason: 'X-Slack-Signature is not a v0 signature' };
  const expected = createHmac('sha256', options.signingSecret).update(`v0:${timestamp}:${options.rawBody}`).digest();
  const given = Buffer.from(match[1]!, 'hex');
  // Both are 32 bytes here (the regex fixed the length), as timingSafeEqual requires.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'signature mismatch' };
  }
  return { ok: true };
}
