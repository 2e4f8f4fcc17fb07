/**
 * Client connections to Temporal from the environment: the embedded dev server by default, or any
 * cluster (TEMPORAL_ADDRESS + namespace, with mTLS or an API key). The worker's native connection
 * uses the same settings (worker/temporal.ts); this file never loads the worker.
 */
import { readFile } from 'node:fs/promises';
import type { Client, Connection, ClientInterceptors } from '@temporalio/client';
import { ConfigError, type Env } from '../config/env';

export interface ConnectionSettings {
  address: string;
  tls?: { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer } | true;
  apiKey?: string;
}

export async function connectionSettings(env: Env, address: string): Promise<ConnectionSettings> {
  const pair = env.TEMPORAL_TLS_CERT && env.TEMPORAL_TLS_KEY;
  if (pair || env.TEMPORAL_TLS_CA) {
    const files = await readConfigFiles({
      ...(env.TEMPORAL_TLS_CERT && env.TEMPORAL_TLS_KEY
        ? { TEMPORAL_TLS_CERT: env.TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY: env.TEMPORAL_TLS_KEY }
        : {}),
      ...(env.TEMPORAL_TLS_CA ? { TEMPORAL_TLS_CA: env.TEMPORAL_TLS_CA } : {}),
    } as Record<'TEMPORAL_TLS_CERT' | 'TEMPORAL_TLS_KEY' | 'TEMPORAL_TLS_CA', string>);
    const tls = {
      ...(files.TEMPORAL_TLS_CERT && files.TEMPORAL_TLS_KEY
        ? { clientCertPair: { crt: files.TEMPORAL_TLS_CERT, key: files.TEMPORAL_TLS_KEY } }
        : {}),
      ...(files.TEMPORAL_TLS_CA ? { serverRootCACertificate: files.TEMPORAL_TLS_CA } : {}),
    };
    return { address, tls, apiKey: env.TEMPORAL_API_KEY };
  }
  if (env.TEMPORAL_API_KEY) return { address, tls: true, apiKey: env.TEMPORAL_API_KEY };
  return { address };
}

/** Files named by variables are configuration: an unreadable one is a ConfigError naming its variable (exit 2). */
async function readConfigFiles<K extends string>(files: Record<K, string>): Promise<Record<K, Buffer>> {
  const entries = Object.entries(files) as [K, string][];
  const results = await Promise.allSettled(entries.map(([, file]) => readFile(file)));
  const read = {} as Record<K, Buffer>;
  const problems: string[] = [];
  results.forEach((result, i) => {
    const [variable, file] = entries[i]!;
    if (result.status === 'fulfilled') read[variable] = result.value;
    else {
      const err = result.reason as NodeJS.ErrnoException;
      problems.push(`  ${variable}: cannot read ${file} (${err.code ?? err.message})`);
    }
  });
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  return read;
}

/** `interceptors`: `firebreak start`'s tracing ones (worker/tracing.ts), so a start carries its trace to the workflow. */
export async function connectClient(
  env: Env,
  address: string,
  interceptors?: ClientInterceptors,
): Promise<{ client: Client; connection: Connection }> {
  // Loaded here, not with the module: connectionSettings serves `firebreak postmortem`, which never loads the SDK.
  const { Client, Connection } = await import('@temporalio/client');
  const connection = await Connection.connect({ ...(await connectionSettings(env, address)), connectTimeout: 5_000 });
  return {
    client: new Client({ connection, namespace: env.TEMPORAL_NAMESPACE, ...(interceptors ? { interceptors } : {}) }),
    connection,
  };
}
