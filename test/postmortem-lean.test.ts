/**
 * `firebreak postmortem` reads histories without the SDK's client: its own gRPC calls over HTTP/2
 * (postmortem/grpc.ts), decoded with the history's descriptors alone (postmortem/history-proto.json),
 * and the history digest written straight from the messages (postmortem/digest.ts). What it exports
 * must be what the SDK path exported, byte for byte: checked on every recorded history (decoded both
 * ways, digest against the proto-JSON definition it had) and on a history read from the bed's server.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { Client, Connection } from '@temporalio/client';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import proto from '@temporalio/proto';
import { buildPostmortem, exportPostmortem, forEachHistoryPage, renderJson, renderMarkdown } from '../postmortem';
import { historyDigest } from '../postmortem/digest';
import type { HistoryEvent } from '../postmortem/history';
import { GetHistoryResponse } from '../postmortem/history-proto';
import { GrpcHistoryReader } from '../postmortem/grpc';
import type { BenchActivities } from '../bench/workflows/history';
import { connectTestClient, runTestWorker, testNamespace, testTemporalAddress, type TestWorker } from './bed/worker';

const execFileAsync = promisify(execFile);
const FIXTURES = fileURLToPath(new URL('./fixtures/histories/', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/firebreak.mjs', import.meta.url));
const LOADED_PACKAGES = fileURLToPath(new URL('./fixtures/loaded-packages.mjs', import.meta.url));
const FullResponse = proto.temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse;
const FullEvent = proto.temporal.api.history.v1.HistoryEvent;

/** The digest as it was defined and computed before: the SDK's proto JSON, keys sorted, empty fields dropped. */
function referenceDigest(events: HistoryEvent[]): string {
  const hash = createHash('sha256');
  const canonical = (value: unknown): { text: string; empty: boolean } => {
    if (value === undefined || value === null) return { text: 'null', empty: true };
    if (Array.isArray(value)) {
      return { text: `[${value.map((item) => canonical(item).text).join(',')}]`, empty: value.length === 0 };
    }
    if (typeof value !== 'object') return { text: JSON.stringify(value), empty: false };
    const fields: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const inner = canonical((value as Record<string, unknown>)[key]);
      if (!inner.empty) fields.push(`${JSON.stringify(key)}:${inner.text}`);
    }
    return { text: `{${fields.join(',')}}`, empty: fields.length === 0 };
  };
  for (const event of events) {
    const plain = FullEvent.toObject(FullEvent.fromObject(event), { longs: String, enums: String, bytes: String });
    hash.update(canonical(plain).text);
    hash.update('\n');
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Same fields, same values: own enumerable properties compared recursively, int64s and bytes by value. */
function assertSameMessage(lean: unknown, full: unknown, path: string): void {
  if (full === null || typeof full !== 'object') return assert.equal(lean, full, path);
  if (full instanceof Uint8Array) {
    assert.ok(lean instanceof Uint8Array, `${path}: bytes`);
    return assert.ok(Buffer.from(lean).equals(Buffer.from(full)), `${path}: the same bytes`);
  }
  if ('low' in full && 'high' in full && 'unsigned' in full) return assert.equal(String(lean), String(full), path);
  assert.ok(lean !== null && typeof lean === 'object', `${path}: an object`);
  assert.deepEqual(Object.keys(lean).sort(), Object.keys(full).sort(), `${path}: the same fields`);
  for (const key of Object.keys(full)) {
    assertSameMessage((lean as Record<string, unknown>)[key], (full as Record<string, unknown>)[key], `${path}.${key}`);
  }
}

describe('the lean history reader, on recorded histories', () => {
  test('history-proto.json is what scripts/history-proto.mjs writes from the installed @temporalio/proto', async () => {
    const script = fileURLToPath(new URL('../scripts/history-proto.mjs', import.meta.url));
    const { stderr } = await execFileAsync(process.execPath, [script, '--check']).catch((err: { stderr: string }) => ({
      stderr: `out of date: ${err.stderr}`,
    }));
    assert.equal(stderr, '', 'run: node scripts/history-proto.mjs');
  });

  test('every recorded history decodes alike, digests as before, and exports byte for byte the same', async () => {
    const files = (await readdir(FIXTURES)).filter((file) => file.endsWith('.json'));
    assert.ok(files.length >= 10, 'the recorded histories are there');
    for (const file of files) {
      const events = historyFromJSON(JSON.parse(await readFile(`${FIXTURES}${file}`, 'utf8'))).events ?? [];
      const wire = FullResponse.encode({ history: { events } }).finish();
      const full = FullResponse.decode(wire).history?.events ?? [];
      const lean = (GetHistoryResponse.decode(wire) as { history?: { events?: HistoryEvent[] } }).history?.events ?? [];
      assert.equal(lean.length, events.length, file);
      lean.forEach((event, i) => assertSameMessage(event, full[i], `${file}#${i + 1}`));

      const digest = referenceDigest(events);
      assert.equal(historyDigest(events), digest, `${file}: the digest of the SDK's messages`);
      assert.equal(historyDigest(lean), digest, `${file}: the digest of the lean messages`);
      assert.equal(
        historyDigest(
          events.map(
            (e) => FullEvent.toObject(e as proto.temporal.api.history.v1.HistoryEvent) as unknown as HistoryEvent,
          ),
        ),
        digest,
        `${file}: of plain objects`,
      );

      const options = { workflowId: file, runId: 'run', generatedAt: new Date(0) };
      const before = buildPostmortem(full, options);
      const now = buildPostmortem(lean, options);
      assert.equal(renderJson(now), renderJson(before), `${file}: the JSON export`);
      assert.equal(renderMarkdown(now), renderMarkdown(before), `${file}: the Markdown export`);
    }
  });

  test('a digest differs when one field of one event differs', async () => {
    const events = historyFromJSON(JSON.parse(await readFile(`${FIXTURES}p0-response.json`, 'utf8'))).events ?? [];
    const changed = events.map((event) =>
      FullEvent.fromObject(FullEvent.toObject(event as proto.temporal.api.history.v1.HistoryEvent)),
    );
    changed[3]!.eventTime = { seconds: changed[3]!.eventTime!.seconds, nanos: (changed[3]!.eventTime!.nanos ?? 0) + 1 };
    assert.notEqual(historyDigest(changed), historyDigest(events));
    assert.equal(historyDigest(changed), referenceDigest(changed));
  });
});

describe('the lean history reader, against the server', () => {
  let client: Client;
  let connection: Connection;
  let worker: TestWorker;
  let workflowId: string;

  before(async () => {
    ({ client, connection } = await connectTestClient());
    const activities: BenchActivities = {
      async checkHealth({ url }) {
        return { healthy: true, verdict: `${url} answered 200 in 3 ms` };
      },
      async setDeploymentEnv({ env }) {
        return { container: 'app', previous: Object.fromEntries(Object.keys(env).map((k) => [k, null])), applied: env };
      },
    };
    worker = await runTestWorker({
      activities,
      workflowsPath: fileURLToPath(new URL('../bench/workflows/history.ts', import.meta.url)),
      maxConcurrentActivityTaskExecutions: 100,
    });
    workflowId = `lean-history-${Date.now()}`;
    await client.workflow.execute('historyBenchmarkWorkflow', {
      taskQueue: worker.taskQueue,
      workflowId,
      args: [{ incidentId: 'INC-LEAN', targetEvents: 1200 }],
    });
  });

  after(async () => {
    await worker?.stop();
    await connection?.close();
  });

  test('pages, events and export are those of the SDK client', async () => {
    const reader = new GrpcHistoryReader({ address: testTemporalAddress() }, testNamespace());
    try {
      await reader.ready();
      const runId = await reader.latestRunId(workflowId);
      assert.equal(runId, (await client.workflow.getHandle(workflowId).describe()).runId);
      const pagesOf = async (from: Client | GrpcHistoryReader) => {
        const pages: HistoryEvent[][] = [];
        await forEachHistoryPage(from, workflowId, runId, (events) => pages.push(events), 20);
        return pages;
      };
      const [lean, sdk] = [await pagesOf(reader), await pagesOf(client)];
      assert.ok(lean.length > 1, `several pages (${lean.length})`);
      assert.deepEqual(
        lean.map((page) => page.length),
        sdk.map((page) => page.length),
      );
      lean.flat().forEach((event, i) => assertSameMessage(event, sdk.flat()[i], `#${i + 1}`));
      assert.ok(lean.flat().length >= 1000, `a long history (${lean.flat().length} events)`);

      const generatedAt = new Date(0);
      const viaReader = await exportPostmortem(reader, { workflowId }, { generatedAt });
      const viaClient = await exportPostmortem(client, { workflowId }, { generatedAt });
      assert.equal(viaReader.json, viaClient.json);
      assert.ok(!viaReader.json.includes('bench-secret'), 'secrets redacted');
    } finally {
      reader.close();
    }
  });

  test('the compiled bin prints the same export, loading neither the SDK client nor its protobuf root', async () => {
    const env = { ...process.env, TEMPORAL_ADDRESS: testTemporalAddress(), TEMPORAL_NAMESPACE: testNamespace() };
    const args = ['--import', LOADED_PACKAGES, BIN, 'postmortem', workflowId, '--format', 'json'];
    const { stdout, stderr } = await execFileAsync(process.execPath, args, {
      env,
      timeout: 120_000,
      maxBuffer: 64 * 2 ** 20,
    });
    assert.doesNotMatch(stderr, /running from the TypeScript sources/, 'the bin ran the compiled CLI');
    const loaded = JSON.parse(/^loaded-packages (.*)$/m.exec(stderr)![1]!) as string[];
    assert.ok(loaded.includes('@temporalio/common'), 'the probe sees what loads');
    for (const heavy of ['@temporalio/client', '@temporalio/proto', '@temporalio/workflow', '@temporalio/worker']) {
      assert.ok(!loaded.includes(heavy), `postmortem loaded ${heavy}`);
    }
    const generatedAt = (JSON.parse(stdout) as { generatedAt: string }).generatedAt;
    const viaClient = await exportPostmortem(client, { workflowId }, { generatedAt: new Date(generatedAt) });
    assert.equal(stdout, viaClient.json);

    const missing = await execFileAsync(process.execPath, [BIN, 'postmortem', `${workflowId}-never`], {
      env,
      timeout: 120_000,
    }).catch((err: { code: number; stderr: string }) => err);
    assert.equal((missing as { code: number }).code, 1);
    assert.match((missing as { stderr: string }).stderr, /no incident .* list incidents with `firebreak incidents`/);
  });
});
