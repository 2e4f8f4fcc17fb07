/**
 * Who the Temporal connection says the CLI user is: the subject (CN) of the mTLS client
 * certificate, or the subject of an API key (a JWT the server verifies on every call). Either is
 * proven to the server by the connection itself, unlike FIREBREAK_USER, which anyone can set.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Env } from '../config/env';

export interface ConnectionIdentity {
  name: string;
  proof: 'mtls' | 'api-key';
}

export async function connectionIdentity(
  env: Pick<Env, 'TEMPORAL_TLS_CERT' | 'TEMPORAL_TLS_KEY' | 'TEMPORAL_API_KEY'>,
): Promise<ConnectionIdentity | undefined> {
  if (env.TEMPORAL_TLS_CERT && env.TEMPORAL_TLS_KEY) {
    const name = certificateSubject(await readFile(env.TEMPORAL_TLS_CERT));
    if (name) return { name, proof: 'mtls' };
  }
  if (env.TEMPORAL_API_KEY) {
    const name = apiKeySubject(env.TEMPORAL_API_KEY);
    if (name) return { name, proof: 'api-key' };
  }
  return undefined;
}

/** The CN of the first certificate in a PEM file; undefined when there is none. */
export function certificateSubject(pem: Buffer | string): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return undefined;
  }
  const cn = cert.subject.split('\n').find((part) => part.startsWith('CN='));
  return cn ? cn.slice(3).trim() || undefined : undefined;
}

/** `sub` of a JWT-shaped API key (Temporal Cloud's are); undefined for an opaque key. */
export function apiKeySubject(key: string): string | undefined {
  const parts = key.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' && claims.sub.length > 0 ? claims.sub.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}
