/**
 * A Temporal server of a test's own, of the same kind as the bed's (FIREBREAK_TEST_TEMPORAL_KIND),
 * for a test that kills the server: the shared one stays up for the other files.
 *
 * - `dev`: the Temporal CLI dev server on a SQLite file in a temporary directory, started and
 *   prepared exactly as `firebreak start` starts its embedded one;
 * - `postgres`: the server built from its Go module on databases of its own in the bed's
 *   PostgreSQL, set up by deploy/temporal-setup.sh. Its search attributes are left to Firebreak's
 *   own start-up (prepareNamespace), as on any external cluster.
 *
 * `kill()` is a SIGKILL (nothing is flushed); `restart()` starts the server again on the same
 * database and address.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { startDevServer } from '../../worker/devserver';
import { freePort } from './ports';
import {
  bedTemporalPostgres,
  launchTemporalServer,
  registerNamespace,
  setupTemporalSchema,
  waitForNamespace,
  writeServerConfig,
} from './temporal-postgres';

export type TemporalKind = 'dev' | 'postgres';

export interface OwnTemporal {
  kind: TemporalKind;
  address: string;
  /** What it is, for test names and diagnostics. */
  describe: string;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The kind of the bed's Temporal (test/run.ts `--temporal`). */
export function bedTemporalKind(): TemporalKind {
  return process.env.FIREBREAK_TEST_TEMPORAL_KIND === 'postgres' ? 'postgres' : 'dev';
}

export async function startOwnTemporal(kind: TemporalKind = bedTemporalKind()): Promise<OwnTemporal> {
  return kind === 'postgres' ? startOwnPostgresTemporal() : startOwnDevServer();
}

/** SIGKILL, then wait for the exit. */
async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

async function startOwnDevServer(): Promise<OwnTemporal> {
  const quiet = () => undefined;
  const dataDir = await mkdtemp(path.join(tmpdir(), 'firebreak-own-temporal-'));
  const [port, uiPort] = [await freePort(), await freePort()];
  let server = await startDevServer({ dataDir, port, uiPort, log: quiet });
  return {
    kind: 'dev',
    address: server.address,
    describe: 'the Temporal dev server (SQLite)',
    kill: () => killHard(server.process),
    restart: async () => {
      server = await startDevServer({ dataDir, port, uiPort, log: quiet });
    },
    stop: async () => {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function startOwnPostgresTemporal(): Promise<OwnTemporal> {
  const bed = bedTemporalPostgres();
  if (!bed) throw new Error('FIREBREAK_TEST_TEMPORAL_KIND=postgres without the temporal-postgres bed component');
  const quiet = () => undefined;
  const id = randomBytes(4).toString('hex');
  const databases = { main: `temporal_own_${id}`, visibility: `temporal_own_${id}_visibility` };
  const root = await mkdtemp(path.join(tmpdir(), 'firebreak-own-temporal-pg-'));
  try {
    await setupTemporalSchema(bed.serverDir, bed.pg, databases);
    const config = await writeServerConfig(root, bed.pg, databases);
    let server = await launchTemporalServer(bed.serverDir, config);
    const ready = async () => {
      await waitForNamespace(config.address, 'default');
    };
    try {
      await registerNamespace(config.address, 'default', quiet);
      await ready();
    } catch (err) {
      await server.stop();
      throw err;
    }
    return {
      kind: 'postgres',
      address: config.address,
      describe: 'the Temporal server on PostgreSQL',
      kill: async () => {
        await killHard(server.process);
        // Only the bookkeeping is left: the log file and the exit hook.
        await server.stop();
      },
      restart: async () => {
        server = await launchTemporalServer(bed.serverDir, config);
        await ready();
      },
      stop: async () => {
        await server.stop();
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}

/** The custom search attributes the cluster at `address` knows in `namespace`. */
export async function customSearchAttributes(address: string, namespace = 'default'): Promise<string[]> {
  const connection = await Connection.connect({ address });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    return Object.keys(customAttributes ?? {}).sort();
  } finally {
    await connection.close();
  }
}
