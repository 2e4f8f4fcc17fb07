/**
 * The embedded Temporal dev server: `temporal server start-dev` on a SQLite file, plus the
 * namespace set-up every Firebreak start needs (search attributes, retention). Used by
 * `firebreak start` and by the test bed, so both run the same server the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { FIREBREAK_SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { lineLog, processLogger } from '../config/logger';
import { ensureTemporalBinary } from '../scripts/temporal-bin';
import proto from '@temporalio/proto';

export interface DevServerOptions {
  /** Directory for the SQLite database and the server log. */
  dataDir: string;
  host?: string;
  port: number;
  /** Web UI port; defaults to port + 1000 like the CLI. */
  uiPort?: number;
  namespace?: string;
  log?: (line: string) => void;
  /** Give up waiting for readiness after this long. */
  readyTimeoutMs?: number;
  /** SQLite `synchronous` level; see sqlitePragmas(). */
  sqliteSync?: SqliteSync;
  /** Benchmarks only: exact pragmas instead of sqlitePragmas(sqliteSync), to compare settings. */
  sqlitePragmaOverride?: Record<string, string>;
}

export type SqliteSync = 'normal' | 'full';

/**
 * The SQLite settings of the embedded server. The write-ahead log (WAL) turns each commit into one
 * append to `temporal.sqlite-wal` instead of a rollback journal written, synced and deleted around
 * every write; with `synchronous=normal` a commit is not fsynced (the WAL is synced at checkpoints).
 * A killed or crashed process loses nothing: committed pages are in the operating system's cache
 * and the next open replays the WAL. A power loss or kernel crash can lose the commits since the
 * last checkpoint — never corrupt the file. `full` fsyncs the WAL on every commit and survives a
 * power loss too, at about the cost the rollback journal had (docs/performance.md, Engine).
 */
export function sqlitePragmas(sync: SqliteSync = 'normal'): Record<string, string> {
  return { journal_mode: 'wal', synchronous: sync };
}

function sqlitePragmaArgs(pragmas: Record<string, string>): string[] {
  return Object.entries(pragmas).flatMap(([name, value]) => ['--sqlite-pragma', `${name}=${value}`]);
}

export interface DevServer {
  address: string;
  uiUrl: string;
  namespace: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const log = options.log ?? lineLog(processLogger(), 'devserver');
  const host = options.host ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const uiPort = options.uiPort ?? options.port + 1000;
  const binary = await ensureTemporalBinary(log);
  await mkdir(options.dataDir, { recursive: true });
  const logFile = await open(path.join(options.dataDir, 'temporal-server.log'), 'a');
  const child = spawn(
    binary,
    [
      'server',
      'start-dev',
      '--db-filename',
      path.join(options.dataDir, 'temporal.sqlite'),
      '--ip',
      host,
      '--port',
      String(options.port),
      '--ui-port',
      String(uiPort),
      '--namespace',
      namespace,
      '--log-level',
      'warn',
      ...sqlitePragmaArgs(options.sqlitePragmaOverride ?? sqlitePragmas(options.sqliteSync)),
      // Updates and visibility queries are what ingress and CLI rely on; make sure they are on.
      '--dynamic-config-value',
      'frontend.enableUpdateWorkflowExecution=true',
      '--dynamic-config-value',
      'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
      ...versioningDynamicConfig(),
      // Update-with-start: an incident's claim on a deployment hold is answered in one call.
      '--dynamic-config-value',
      'frontend.enableExecuteMultiOperation=true',
    ],
    { stdio: ['ignore', logFile.fd, logFile.fd], detached: false },
  );
  await logFile.close();
  const address = `${host}:${options.port}`;
  const exited = once(child, 'exit').then(([code]) => code as number | null);

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await waitUntilServing(address, options.readyTimeoutMs ?? 60_000, exited, options.dataDir);
    await prepareNamespace(address, namespace, log);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, uiUrl: `http://${host}:${uiPort}`, namespace, process: child, stop };
}

/**
 * Worker Deployment Versioning (pinned incidents, worker/versioning.ts): on by default in this
 * server, stated so a changed default cannot silently unpin incidents.
 */
function versioningDynamicConfig(): string[] {
  return ['system.enableDeploymentVersions=true', 'frontend.workerVersioningWorkflowAPIs=true'].flatMap((value) => [
    '--dynamic-config-value',
    value,
  ]);
}

async function waitUntilServing(
  address: string,
  timeoutMs: number,
  exited: Promise<number | null>,
  dataDir: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code ?? -1));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(
        `the Temporal dev server exited with code ${exitCode}; see ${path.join(dataDir, 'temporal-server.log')}`,
      );
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.healthService.check({});
        return;
      } finally {
        await connection.close();
      }
    } catch {
      await sleep(250);
    }
  }
  throw new Error(`the Temporal dev server at ${address} was not ready within ${timeoutMs / 1000} s`);
}

/** Retention long enough that postmortems can be exported weeks later. */
export const DEFAULT_RETENTION_DAYS = 30;

/**
 * Registers Firebreak's search attributes and raises the namespace retention. Idempotent: safe on
 * a new database and on one an earlier start already prepared. Works against any cluster the
 * credentials allow (an operator may have done it already).
 */
export async function prepareNamespace(
  address: string | Connection,
  namespace: string,
  log: (line: string) => void,
  retentionDays = DEFAULT_RETENTION_DAYS,
): Promise<void> {
  const connection = typeof address === 'string' ? await Connection.connect({ address }) : address;
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = FIREBREAK_SEARCH_ATTRIBUTES.filter((key) => !(key.name in (existing.customAttributes ?? {})));
    if (missing.length > 0) {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((key) => [key.name, indexedValueType(key.type)])),
      });
      log(`Registered search attributes: ${missing.map((key) => key.name).join(', ')}`);
    }
    await searchAttributesUsable(connection, namespace, log);
    const described = await connection.workflowService.describeNamespace({ namespace });
    const currentSeconds = Number(described.config?.workflowExecutionRetentionTtl?.seconds ?? 0);
    const wantedSeconds = retentionDays * 24 * 3600;
    if (currentSeconds < wantedSeconds) {
      await connection.workflowService.updateNamespace({
        namespace,
        config: { workflowExecutionRetentionTtl: msToTs(wantedSeconds * 1000) },
      });
      log(`Namespace ${namespace}: retention raised to ${retentionDays} days`);
    }
  } finally {
    if (typeof address === 'string') await connection.close();
  }
}

/**
 * Waits until the frontend accepts a query naming every Firebreak search attribute. A real
 * cluster (PostgreSQL, Elasticsearch) learns attributes added a moment ago — by this start or by
 * another replica's — through its namespace cache, a second or two later; until then a start that
 * sets them is refused ("no mapping defined for search attribute"), so the first webhook would
 * fail. The dev server answers at once.
 */
async function searchAttributesUsable(
  connection: Connection,
  namespace: string,
  log: (line: string) => void,
  timeoutMs = 30_000,
): Promise<void> {
  const query = FIREBREAK_SEARCH_ATTRIBUTES.map((key) => `${key.name} = ''`).join(' AND ');
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await connection.workflowService.countWorkflowExecutions({ namespace, query });
      if (attempt > 1) log(`Search attributes usable after ${Date.now() - started} ms`);
      return;
    } catch (err) {
      if (Date.now() - started > timeoutMs) {
        throw new Error(`the search attributes are registered but not usable in ${namespace} after ${timeoutMs} ms`, {
          cause: err,
        });
      }
      await sleep(250);
    }
  }
}

function indexedValueType(type: string): proto.temporal.api.enums.v1.IndexedValueType {
  const { IndexedValueType } = proto.temporal.api.enums.v1;
  switch (type) {
    case 'KEYWORD':
      return IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
    case 'KEYWORD_LIST':
      return IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST;
    case 'TEXT':
      return IndexedValueType.INDEXED_VALUE_TYPE_TEXT;
    case 'INT':
      return IndexedValueType.INDEXED_VALUE_TYPE_INT;
    case 'DATETIME':
      return IndexedValueType.INDEXED_VALUE_TYPE_DATETIME;
    case 'BOOL':
      return IndexedValueType.INDEXED_VALUE_TYPE_BOOL;
    default:
      return IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE;
  }
}

/** Where the supervised dev server is: serving, being started again, or given up on. */
export type DevServerState = 'running' | 'restarting' | 'failed' | 'stopped';

export interface DevServerHealth {
  state: DevServerState;
  /** Restarts since `firebreak start` began (each attempt counts, a failed one too). */
  restarts: number;
  /** Why the server last stopped on its own (exit code or signal), if it ever did. */
  lastExit?: string;
}

export interface SupervisionOptions {
  /** Restarts allowed within `windowMs`; one more and the supervisor gives up. */
  maxRestarts: number;
  windowMs: number;
  /** First backoff delay; it doubles with each restart in the window, up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How the supervisor reports: a restart and giving up are errors, a server back is info. */
  report: { info(line: string): void; error(line: string): void };
}

export interface SupervisedDevServer {
  address: string;
  uiUrl: string;
  namespace: string;
  /** The server process running now (a new one after each restart). */
  readonly process: ChildProcess;
  health(): DevServerHealth;
  /**
   * Rejects once the server stopped more often than the bound allows (or would not start again
   * within it): the caller exits non-zero so its own supervisor (systemd, Kubernetes, compose)
   * restarts the whole process. Never resolves.
   */
  givenUp: Promise<never>;
  stop(): Promise<void>;
}

/**
 * The embedded dev server under supervision: a server that exits on its own (killed, crashed) is
 * started again on the same SQLite file and the same ports, after a backoff that doubles with each
 * restart in the window; past `maxRestarts` within `windowMs` the supervisor gives up. The SQLite
 * file survives a kill (write-ahead log, see sqlitePragmas), so the restarted server has every
 * incident the killed one had committed; clients and workers reconnect to the same address.
 */
export async function superviseDevServer(
  options: DevServerOptions,
  supervision: SupervisionOptions,
): Promise<SupervisedDevServer> {
  const baseDelayMs = supervision.baseDelayMs ?? 250;
  const maxDelayMs = supervision.maxDelayMs ?? 8_000;
  let current = await startDevServer(options);
  let state: DevServerState = 'running';
  let restarts = 0;
  let lastExit: string | undefined;
  const recent: number[] = [];
  let restarting: Promise<void> | undefined;
  // A function, not an inline comparison: stop() changes the state while a restart awaits.
  const stopped = () => state === 'stopped';
  let giveUp!: (err: Error) => void;
  const givenUp = new Promise<never>((_resolve, reject) => (giveUp = reject));
  // The caller may only look at it later; a rejection nobody awaited yet is not a crash.
  givenUp.catch(() => undefined);

  const restart = async (exit: string): Promise<void> => {
    const downAt = Date.now();
    state = 'restarting';
    lastExit = exit;
    supervision.report.error(
      `The embedded Temporal server stopped on its own (${exit}); starting it again on the same database`,
    );
    for (;;) {
      const now = Date.now();
      while (recent.length > 0 && recent[0]! <= now - supervision.windowMs) recent.shift();
      if (recent.length >= supervision.maxRestarts) {
        state = 'failed';
        giveUp(
          new Error(
            `the embedded Temporal server stopped ${recent.length + 1} times within ` +
              `${Math.round(supervision.windowMs / 1000)} s (bound: ${supervision.maxRestarts} restarts; ` +
              `last: ${exit}); see ${path.join(options.dataDir, 'temporal-server.log')}`,
          ),
        );
        return;
      }
      const delay = Math.min(baseDelayMs * 2 ** recent.length, maxDelayMs);
      recent.push(now);
      restarts += 1;
      await sleep(delay);
      if (stopped()) return;
      try {
        current = await startDevServer(options);
      } catch (err) {
        exit = (err as Error).message;
        supervision.report.error(`Restart ${restarts} of the embedded Temporal server failed: ${exit}`);
        continue;
      }
      if (stopped()) {
        await current.stop();
        return;
      }
      state = 'running';
      watch(current);
      supervision.report.info(
        `The embedded Temporal server is back at ${current.address} after ${Date.now() - downAt} ms (restart ${restarts})`,
      );
      return;
    }
  };

  const watch = (server: DevServer) => {
    server.process.once('exit', (code, signal) => {
      if (stopped() || server !== current) return;
      restarting = restart(signal ? `killed by ${signal}` : `exit code ${code}`).finally(
        () => (restarting = undefined),
      );
    });
  };
  watch(current);

  return {
    address: current.address,
    uiUrl: current.uiUrl,
    namespace: current.namespace,
    get process() {
      return current.process;
    },
    health: () => ({ state, restarts, ...(lastExit ? { lastExit } : {}) }),
    givenUp,
    async stop() {
      state = 'stopped';
      await restarting;
      await current.stop();
    },
  };
}
