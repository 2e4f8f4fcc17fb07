/**
 * Test-bed component `temporal-postgres` (opt-in): a production-shaped Temporal — the server and
 * its SQL tool built from go.temporal.io/server at the release the pinned CLI embeds
 * (test/temporal-server/build.sh), on a private PostgreSQL from Debian's packages, the schema set
 * up and the namespace registered by deploy/temporal-setup.sh exactly as docker-compose.yml does,
 * with deploy/temporal-dynamicconfig.yaml. Firebreak's search attributes are NOT registered here:
 * Firebreak's own start-up does that against a cluster like this one (prepareNamespace).
 *
 * Env for test processes:
 *   FIREBREAK_TEST_TEMPORAL_PG_ADDRESS      frontend host:port
 *   FIREBREAK_TEST_TEMPORAL_PG_NAMESPACE    the registered namespace (default)
 *   FIREBREAK_TEST_TEMPORAL_PG_METRICS_URL  the server's Prometheus endpoint (also scraped by the bed's Prometheus)
 *   FIREBREAK_TEST_TEMPORAL_PG_PID          the server's process (a benchmark reads its CPU time)
 *   FIREBREAK_TEST_POSTGRES_URL             postgresql://user:password@host:port, a superuser
 *   FIREBREAK_TEST_TEMPORAL_SERVER_DIR      the build (bin/, schema/), for a test's own server
 *   FIREBREAK_TEST_TEMPORAL_PG_LOGS         the server's and PostgreSQL's logs
 *
 * Standalone: `node --import tsx test/bed/temporal-postgres.ts` prints the env and runs until interrupted.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { stringify as toYaml } from 'yaml';
import { ensureTemporalBinary } from '../../scripts/temporal-bin';
import { REPO_ROOT, runBuildScript } from './build';
import { freePorts, freePortsBetween } from './ports';
import { parsePostgresUrl, postgresUrl, startPostgres, type PostgresEndpoint } from './postgres';
import { launchServer, sleep, type LaunchedServer } from './process';
import { registerScrapeTarget } from './prometheus';
import { runStandalone, type BedComponent, type BedOptions } from './component';

const execFileAsync = promisify(execFile);

export const SETUP_SCRIPT = path.join(REPO_ROOT, 'deploy/temporal-setup.sh');
export const DYNAMIC_CONFIG = path.join(REPO_ROOT, 'deploy/temporal-dynamicconfig.yaml');
const SERVER_ENV = 'firebreak';
const READY_TIMEOUT_MS = 60_000;

/** The main and visibility databases one Temporal cluster owns. */
export interface TemporalDatabases {
  main: string;
  visibility: string;
}

/** Builds (or finds cached) temporal-server, temporal-sql-tool and the schema; returns their directory. */
export function ensureTemporalServerBuild(log: (msg: string) => void): Promise<string> {
  return runBuildScript('test/temporal-server/build.sh', 'bin/temporal-server', log);
}

/** `deploy/temporal-setup.sh schema`: creates and migrates both databases (idempotent). */
export async function setupTemporalSchema(
  serverDir: string,
  pg: PostgresEndpoint,
  databases: TemporalDatabases,
): Promise<void> {
  await execFileAsync('sh', [SETUP_SCRIPT, 'schema'], {
    timeout: 120_000,
    env: {
      ...process.env,
      TEMPORAL_SQL_TOOL: path.join(serverDir, 'bin/temporal-sql-tool'),
      TEMPORAL_SCHEMA_DIR: path.join(serverDir, 'schema'),
      SQL_PLUGIN: 'postgres12',
      SQL_HOST: pg.host,
      SQL_PORT: String(pg.port),
      SQL_USER: pg.user,
      SQL_PASSWORD: pg.password,
      TEMPORAL_DB: databases.main,
      TEMPORAL_VISIBILITY_DB: databases.visibility,
    },
  });
}

/** `deploy/temporal-setup.sh namespace` with the pinned Temporal CLI. */
export async function registerNamespace(address: string, namespace: string, log: (msg: string) => void): Promise<void> {
  await execFileAsync('sh', [SETUP_SCRIPT, 'namespace'], {
    timeout: 60_000,
    env: {
      ...process.env,
      TEMPORAL_CLI: await ensureTemporalBinary(log),
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
    },
  });
}

export interface ServerConfig {
  /** Directory holding config/<env>.yaml, the server's --root. */
  root: string;
  address: string;
  metricsUrl: string;
}

/**
 * Writes a single-node server config: all four services in one process on loopback ports chosen
 * now (a restart on the same root reuses them), both stores on `pg`.
 */
export async function writeServerConfig(
  root: string,
  pg: PostgresEndpoint,
  databases: TemporalDatabases,
): Promise<ServerConfig> {
  const host = '127.0.0.1';
  const ports = await freePorts(6);
  const port = () => ports.pop()!;
  // cluster_membership.rpc_port is a SMALLINT: membership ports must stay below 32768.
  const membershipPorts = await freePortsBetween(4, 20_000, 32_768);
  const service = (extra: Record<string, number> = {}) => ({
    rpc: { grpcPort: port(), membershipPort: membershipPorts.pop()!, bindOnLocalHost: true, ...extra },
  });
  const services = {
    frontend: service({ httpPort: port() }),
    history: service(),
    matching: service(),
    worker: service(),
  };
  const frontend = `${host}:${services.frontend.rpc.grpcPort}`;
  const metrics = `${host}:${port()}`;
  const store = (database: string) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName: database,
      connectAddr: `${pg.host}:${pg.port}`,
      connectProtocol: 'tcp',
      user: pg.user,
      password: pg.password,
      maxConns: 10,
      maxIdleConns: 10,
      maxConnLifetime: '1h',
    },
  });
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: 4,
      datastores: { 'postgres-default': store(databases.main), 'postgres-visibility': store(databases.visibility) },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: host },
      metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: metrics } },
    },
    services,
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: frontend },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: DYNAMIC_CONFIG, pollInterval: '10s' },
  };
  await mkdir(path.join(root, 'config'), { recursive: true });
  await writeFile(path.join(root, 'config', `${SERVER_ENV}.yaml`), toYaml(config), { mode: 0o600 });
  return { root, address: frontend, metricsUrl: `http://${metrics}/metrics` };
}

/** How a test client reaches a frontend that serves TLS (the client certificate when it requires one). */
export type FrontendTls = { serverRootCACertificate: Buffer; clientCertPair?: { crt: Buffer; key: Buffer } };

/** Starts temporal-server on a config written by writeServerConfig; ready when the frontend serves. */
export async function launchTemporalServer(
  serverDir: string,
  config: ServerConfig,
  tls?: FrontendTls,
): Promise<LaunchedServer> {
  return launchServer({
    name: 'temporal-server',
    binary: path.join(serverDir, 'bin/temporal-server'),
    args: ['--root', config.root, '--config', 'config', '--env', SERVER_ENV, '--allow-no-auth', 'start'],
    ready: () => frontendServing(config.address, tls),
    readyTimeoutMs: READY_TIMEOUT_MS,
    stopTimeoutMs: 15_000,
    logFile: path.join(config.root, 'temporal-server.log'),
  });
}

async function frontendServing(address: string, tls?: FrontendTls): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000, ...(tls ? { tls } : {}) });
  try {
    await connection.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' });
    return true;
  } finally {
    await connection.close();
  }
}

/**
 * Waits until the frontend answers for `namespace`: a namespace registered a moment ago reaches the
 * other services' namespace caches only on their next refresh.
 */
export async function waitForNamespace(
  address: string,
  namespace: string,
  timeoutMs = 30_000,
  tls?: FrontendTls,
): Promise<void> {
  const connection = await Connection.connect({ address, ...(tls ? { tls } : {}) });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await connection.workflowService.countWorkflowExecutions({ namespace });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`namespace ${namespace} not usable on ${address}`, { cause: err });
        await sleep(250);
      }
    }
  } finally {
    await connection.close();
  }
}

export async function startTemporalPostgres(opts: BedOptions): Promise<BedComponent> {
  const started = Date.now();
  const serverDir = await ensureTemporalServerBuild(opts.log);
  const pg = await startPostgres({
    dir: path.join(opts.workDir, 'postgres'),
    user: 'temporal',
    password: randomBytes(12).toString('hex'),
    log: opts.log,
  });
  let server: LaunchedServer | undefined;
  try {
    const databases = { main: 'temporal', visibility: 'temporal_visibility' };
    await setupTemporalSchema(serverDir, pg, databases);
    opts.log(`schema set up (${Date.now() - started} ms)`);
    const config = await writeServerConfig(path.join(opts.workDir, 'server'), pg, databases);
    server = await launchTemporalServer(serverDir, config);
    opts.log(`temporal-server serving on ${config.address} (${Date.now() - started} ms)`);
    await registerNamespace(config.address, 'default', opts.log);
    await waitForNamespace(config.address, 'default');
    await registerScrapeTarget(opts.env, 'temporal-postgres', config.metricsUrl);
    opts.log(`namespace default ready (${Date.now() - started} ms)`);
    const running = server;
    return {
      env: {
        FIREBREAK_TEST_TEMPORAL_PG_ADDRESS: config.address,
        FIREBREAK_TEST_TEMPORAL_PG_NAMESPACE: 'default',
        FIREBREAK_TEST_TEMPORAL_PG_METRICS_URL: config.metricsUrl,
        FIREBREAK_TEST_TEMPORAL_PG_PID: String(running.process.pid),
        FIREBREAK_TEST_POSTGRES_URL: postgresUrl(pg),
        FIREBREAK_TEST_TEMPORAL_SERVER_DIR: serverDir,
        FIREBREAK_TEST_TEMPORAL_PG_LOGS: opts.workDir,
      },
      stop: async () => {
        await running.stop();
        await pg.stop();
      },
    };
  } catch (err) {
    opts.log(`start failed; logs in ${opts.workDir}`);
    await server?.stop();
    await pg.stop();
    throw err;
  }
}

/** The bed's PostgreSQL and server build, for a test that runs a Temporal cluster of its own. */
export function bedTemporalPostgres(): { pg: PostgresEndpoint; serverDir: string; address: string } | undefined {
  const url = process.env.FIREBREAK_TEST_POSTGRES_URL;
  const serverDir = process.env.FIREBREAK_TEST_TEMPORAL_SERVER_DIR;
  const address = process.env.FIREBREAK_TEST_TEMPORAL_PG_ADDRESS;
  if (!url || !serverDir || !address || !existsSync(serverDir)) return undefined;
  return { pg: parsePostgresUrl(url), serverDir, address };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runStandalone('temporal-postgres', startTemporalPostgres);
}
