/**
 * A private PostgreSQL cluster from Debian's `postgresql` package: initdb into the bed's work dir,
 * the server on a free loopback port (no system cluster, no /etc/postgresql, nothing shared with
 * other beds on the machine), run as the package's `postgres` user when the bed is root. One
 * superuser with a password, as Temporal's SQL tool and server expect.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports';
import { launchServer } from './process';
import { asServiceUser, handOver } from './service-user';

const execFileAsync = promisify(execFile);
const SERVICE_USER = 'postgres';

export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** `postgresql://user:password@host:port`, the form the bed exports. */
export const postgresUrl = (pg: PostgresEndpoint): string =>
  `postgresql://${encodeURIComponent(pg.user)}:${encodeURIComponent(pg.password)}@${pg.host}:${pg.port}`;

export function parsePostgresUrl(url: string): PostgresEndpoint {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  };
}

/** $FIREBREAK_POSTGRES_BIN_DIR, else the newest /usr/lib/postgresql/<major>/bin. */
export function postgresBinDir(): string {
  const fromEnv = process.env.FIREBREAK_POSTGRES_BIN_DIR;
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((name) => /^\d+$/.test(name)) : [];
  const newest = majors
    .sort((a, b) => Number(b) - Number(a))
    .find((major) => existsSync(`${root}/${major}/bin/postgres`));
  if (!newest)
    throw new Error(`no PostgreSQL server in ${root}: install Debian's postgresql (scripts/provision-test-deps.sh)`);
  return `${root}/${newest}/bin`;
}

export async function startPostgres(opts: {
  dir: string;
  user: string;
  password: string;
  log: (msg: string) => void;
}): Promise<PostgresEndpoint & { stop(): Promise<void> }> {
  const bin = postgresBinDir();
  const data = path.join(opts.dir, 'data');
  const socketDir = path.join(opts.dir, 'socket');
  await mkdir(socketDir, { recursive: true });
  const passwordFile = path.join(opts.dir, 'superuser-password');
  await writeFile(passwordFile, `${opts.password}\n`, { mode: 0o600 });
  await handOver(opts.dir, SERVICE_USER);

  const initdb = asServiceUser(SERVICE_USER, path.join(bin, 'initdb'), [
    `--pgdata=${data}`,
    `--username=${opts.user}`,
    `--pwfile=${passwordFile}`,
    '--auth=scram-sha-256',
    '--encoding=UTF8',
    '--no-locale',
    // A throwaway cluster: durability against power loss buys nothing, fsync costs seconds.
    '--no-sync',
  ]);
  await execFileAsync(initdb.binary, initdb.args, { timeout: 60_000 });

  const port = await freePort();
  const host = '127.0.0.1';
  const server = await launchServer({
    name: 'postgres',
    binary: path.join(bin, 'postgres'),
    args: [
      '-D',
      data,
      '-c',
      `listen_addresses=${host}`,
      '-c',
      `port=${port}`,
      '-c',
      `unix_socket_directories=${socketDir}`,
      // Data must survive a Temporal server restart (processes), not a machine crash.
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      // Temporal opens up to maxConns per store per service; several servers may share this one.
      '-c',
      'max_connections=300',
    ],
    user: SERVICE_USER,
    ready: async () => {
      const ready = path.join(bin, 'pg_isready');
      await execFileAsync(ready, ['-h', host, '-p', String(port), '-q'], { timeout: 2_000 });
      return true;
    },
    readyTimeoutMs: 30_000,
    stopTimeoutMs: 10_000,
    // Fast shutdown: SIGTERM would wait for every client (a Temporal server) to disconnect.
    stopSignal: 'SIGINT',
    logFile: path.join(opts.dir, 'postgres.log'),
  });
  opts.log(`postgres ready on ${host}:${port} (${bin})`);
  return { host, port, user: opts.user, password: opts.password, stop: server.stop };
}
