/**
 * The CLI's identity proven by the connection, over real mTLS: a Temporal cluster of the test's own
 * (the temporal-postgres bed's server build, on databases of its own) whose frontend requires a
 * client certificate signed by the test's CA. Under `permissions.cli.requireProvenIdentity`, a CLI
 * holding carol's certificate decides a four-eyes gate as `cli:carol` whatever FIREBREAK_USER says;
 * a certificate that names no one leaves the CLI self-declared, and it is refused; without a
 * certificate the server does not let it in at all.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { runCliCaptured } from './cli-support';
import { incidentPolicy, parseFileConfig } from '../config/file';
import { statusQuery } from '../domain/messages';
import { prepareNamespace } from '../worker/devserver';
import { makeClientCertificate, makeServingCertificate } from './bed/pki';
import {
  bedTemporalPostgres,
  launchTemporalServer,
  setupTemporalSchema,
  waitForNamespace,
  writeServerConfig,
  type FrontendTls,
} from './bed/temporal-postgres';
import type { LaunchedServer } from './bed/process';
import { runTestWorker, uniqueTaskQueue, type TestWorker } from './bed/worker';
import { FakeWorld } from './workflows/fakes';
import { fastPolicy, gatePending, startIncident, uniqueTarget, waitForRecord } from './workflows/harness';

const bed = bedTemporalPostgres();
const DAVE = { id: 'U0DAVE', name: 'dave' };
const CONFIG = `
people:
  carol: { cli: carol }
  dave: { slack: U0DAVE, cli: dave }
permissions:
  approve:
    - who: [carol]
  cli:
    requireProvenIdentity: true
`;

describe('proven CLI identity over mTLS', { skip: bed ? false : 'needs the temporal-postgres bed component' }, () => {
  let dir: string;
  let server: LaunchedServer | undefined;
  let address: string;
  let workerTls: FrontendTls;
  let connection: Connection | undefined;
  let client: Client;
  let worker: TestWorker | undefined;
  const files: Record<string, string> = {};
  const world = new FakeWorld();
  const taskQueue = uniqueTaskQueue('mtls');
  const filePolicy = incidentPolicy(parseFileConfig(CONFIG));
  const strict = fastPolicy({
    approvers: filePolicy.approvers,
    access: filePolicy.access!,
    gateEscalateAfterMs: 120_000,
    gateDeadlineMs: 120_000,
  });

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'firebreak-mtls-'));
    const pki = path.join(dir, 'pki');
    const frontend = await makeServingCertificate(pki, {
      name: 'frontend',
      commonName: 'temporal-frontend',
      sans: ['IP:127.0.0.1', 'DNS:localhost'],
      clientAuth: true,
    });
    files.ca = frontend.ca;
    for (const [name, subject] of [
      ['carol', '/CN=carol'],
      ['nobody', '/O=firebreak-ops'],
      ['worker', '/CN=firebreak-worker'],
    ] as const) {
      const made = await makeClientCertificate(pki, { name, subject });
      files[`${name}.crt`] = made.cert;
      files[`${name}.key`] = made.key;
    }
    const ca = await readFile(frontend.ca);
    workerTls = {
      serverRootCACertificate: ca,
      clientCertPair: { crt: await readFile(files['worker.crt']!), key: await readFile(files['worker.key']!) },
    };

    const id = randomUUID().slice(0, 8);
    const databases = { main: `temporal_mtls_${id}`, visibility: `temporal_mtls_${id}_visibility` };
    await setupTemporalSchema(bed!.serverDir, bed!.pg, databases);
    const config = await writeServerConfig(path.join(dir, 'server'), bed!.pg, databases);
    // The frontend requires a client certificate of the test's CA; the server's own system worker
    // presents one too.
    const configFile = path.join(config.root, 'config', 'firebreak.yaml');
    const serverConfig = parseYaml(await readFile(configFile, 'utf8')) as { global: Record<string, unknown> };
    const tlsClient = { serverName: 'localhost', rootCaFiles: [frontend.ca] };
    serverConfig.global.tls = {
      frontend: {
        server: {
          certFile: frontend.cert,
          keyFile: frontend.key,
          requireClientAuth: true,
          clientCaFiles: [frontend.ca],
        },
        client: tlsClient,
      },
      systemWorker: { certFile: frontend.cert, keyFile: frontend.key, client: tlsClient },
    };
    await writeFile(configFile, toYaml(serverConfig), { mode: 0o600 });
    server = await launchTemporalServer(bed!.serverDir, config, workerTls);
    address = config.address;

    connection = await Connection.connect({ address, tls: workerTls });
    await connection.workflowService.registerNamespace({
      namespace: 'default',
      workflowExecutionRetentionPeriod: msToTs(24 * 3600 * 1000),
    });
    await waitForNamespace(address, 'default', 30_000, workerTls);
    await prepareNamespace(connection, 'default', () => undefined);
    client = new Client({ connection, namespace: 'default' });
    worker = await runTestWorker({ address, tls: workerTls, taskQueue, activities: world.activities() });
  });

  after(async () => {
    await worker?.stop();
    await connection?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function cli(args: string[], env: NodeJS.ProcessEnv) {
    return runCliCaptured(args, {
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: 'default',
      FIREBREAK_TASK_QUEUE: taskQueue,
      TEMPORAL_TLS_CA: files.ca,
      ...env,
    });
  }

  test("carol's certificate decides a four-eyes gate as cli:carol; a self-declared carol is refused", async () => {
    const handle = await startIncident(client, taskQueue, {
      runbook: 'emergency-rollback',
      targets: [uniqueTarget('mtls')],
      policy: strict,
      triggeredBy: DAVE,
    });
    const record = await waitForRecord(handle, gatePending('confirm-rollback'));
    assert.equal(record.gates[0]!.fourEyes, true);
    const choice = record.gates[0]!.choices!.at(-1)!;
    const approve = ['approve', handle.workflowId, '--gate', 'confirm-rollback', '--choice', choice];

    // No certificate: the server does not let the CLI in.
    const noCert = await cli(approve, { FIREBREAK_USER: 'carol' });
    assert.equal(noCert.code, 1, noCert.stdout);
    assert.match(noCert.stderr, /cannot reach Temporal/);

    // A certificate that names no one: admitted, but the name is only FIREBREAK_USER's — refused.
    const selfDeclared = await cli(approve, {
      FIREBREAK_USER: 'carol',
      TEMPORAL_TLS_CERT: files['nobody.crt'],
      TEMPORAL_TLS_KEY: files['nobody.key'],
    });
    assert.equal(selfDeclared.code, 1, selfDeclared.stdout);
    assert.match(
      selfDeclared.stderr,
      /needs a CLI identity proven by the Temporal connection.*cli:carol is self-declared/,
    );
    assert.equal((await handle.query(statusQuery)).gates[0]!.status, 'pending');

    // Carol's certificate: proven by the handshake, whatever FIREBREAK_USER claims.
    const proven = await cli(approve, {
      FIREBREAK_USER: 'mallory',
      TEMPORAL_TLS_CERT: files['carol.crt'],
      TEMPORAL_TLS_KEY: files['carol.key'],
    });
    assert.equal(proven.code, 0, proven.stderr);
    assert.match(proven.stdout, /Gate confirm-rollback approved/);
    const decided = await waitForRecord(handle, (r) => r.gates[0]!.status === 'approved');
    assert.equal(decided.gates[0]!.decidedBy?.id, 'cli:carol');
    assert.equal(decided.gates[0]!.decidedBy?.proof, 'mtls');
    assert.match(decided.timeline.map((e) => e.message).join('\n'), /Refused: carol may not approve/);
    await handle.terminate('test over');
  });
});
