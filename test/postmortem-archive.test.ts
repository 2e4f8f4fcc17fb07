/**
 * The archiver: closed incidents' postmortems land in the archive directory once, survive a
 * restart of the archiver (state file lost included), and running incidents are left alone.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client, Connection } from '@temporalio/client';
import { resolveSignal } from '../domain/messages';
import { safeName, startArchiver } from '../worker/archiver';
import { connectTestClient, runTestWorker, uniqueTaskQueue, type TestWorker } from './bed/worker';
import { FakeWorld } from './workflows/fakes';
import { BOB, fastPolicy, startIncident, waitForRecord } from './workflows/harness';

let client: Client;
let connection: Connection;
let worker: TestWorker;
let archiveDir: string;
const world = new FakeWorld();

before(async () => {
  ({ client, connection } = await connectTestClient());
  worker = await runTestWorker({ activities: world.activities(), taskQueue: uniqueTaskQueue('archive') });
  archiveDir = await mkdtemp(path.join(tmpdir(), 'firebreak-archive-'));
});

after(async () => {
  await worker?.stop();
  await connection?.close();
  if (archiveDir) await rm(archiveDir, { recursive: true, force: true });
});

/** Ticks until the files of every given run exist (visibility indexes closes shortly after). */
async function tickUntilArchived(archiver: ReturnType<typeof startArchiver>, bases: string[]): Promise<string[]> {
  const written: string[] = [];
  for (let i = 0; i < 50; i++) {
    written.push(...(await archiver.tick()));
    const files = new Set(await readdir(archiveDir));
    if (bases.every((base) => files.has(`${base}.md`) && files.has(`${base}.json`))) return written;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`not archived: ${bases.join(', ')}`);
}

test('closed incidents are archived once, as Markdown and JSON; running ones are not', async () => {
  const policy = fastPolicy();
  const closed = [];
  for (let i = 0; i < 2; i++) {
    const handle = await startIncident(client, worker.taskQueue, { runbook: 'p0-response', severity: 'P0', policy });
    await waitForRecord(handle, (r) => r.status === 'mitigated');
    await handle.signal(resolveSignal, { actor: BOB });
    await handle.result();
    closed.push({ workflowId: handle.workflowId, runId: (await handle.describe()).runId });
  }
  const open = await startIncident(client, worker.taskQueue, { runbook: 'emergency-rollback', policy });
  const bases = closed.map((c) => `${safeName(c.workflowId)}-${c.runId}`);
  const logs: string[] = [];
  try {
    const archiver = startArchiver({
      client,
      archiveDir,
      // Scoped: other test files close incidents on the shared server while this one scans.
      taskQueue: worker.taskQueue,
      intervalMs: 60_000,
      maxPerTick: 500,
      log: (l) => logs.push(l),
    });
    const written = await tickUntilArchived(archiver, bases);
    for (const base of bases) assert.ok(written.includes(path.join(archiveDir, `${base}.md`)));
    const json = JSON.parse(await readFile(path.join(archiveDir, `${bases[0]}.json`), 'utf8')) as {
      schemaVersion: number;
      source: { workflowId: string; executionStatus: string };
    };
    assert.equal(json.schemaVersion, 1);
    assert.equal(json.source.workflowId, closed[0]!.workflowId);
    assert.equal(json.source.executionStatus, 'completed');
    const markdown = await readFile(path.join(archiveDir, `${bases[1]}.md`), 'utf8');
    assert.match(markdown, /^# Postmortem: P0 incident response/);
    assert.ok(
      !(await readdir(archiveDir)).some((file) => file.startsWith(safeName(open.workflowId))),
      'running incident not archived',
    );

    // A second scan writes nothing: the files exist.
    assert.deepEqual(await archiver.tick(), []);
    await archiver.stop();

    // A restart that lost its state and one file rewrites only that file.
    await rm(path.join(archiveDir, '.archive-state.json'), { force: true });
    await rm(path.join(archiveDir, `${bases[0]}.md`));
    const restarted = startArchiver({
      client,
      archiveDir,
      // Scoped: other test files close incidents on the shared server while this one scans.
      taskQueue: worker.taskQueue,
      intervalMs: 60_000,
      maxPerTick: 500,
      log: (l) => logs.push(l),
    });
    const rewritten = await tickUntilArchived(restarted, bases);
    assert.ok(rewritten.includes(path.join(archiveDir, `${bases[0]}.md`)));
    assert.ok(!rewritten.some((file) => file.includes(bases[1]!)), 'the intact one is not rewritten');
    await restarted.stop();
  } finally {
    await open.terminate('test done');
  }
});

test('an archiver scoped to a task queue leaves other engines’ incidents to them', async () => {
  const handle = await startIncident(client, worker.taskQueue, { runbook: 'p0-response', policy: fastPolicy() });
  await waitForRecord(handle, (r) => r.status === 'mitigated');
  await handle.signal(resolveSignal, { actor: BOB });
  await handle.result();
  const base = `${safeName(handle.workflowId)}-${(await handle.describe()).runId}`;
  const ownDir = await mkdtemp(path.join(tmpdir(), 'firebreak-archive-own-'));
  const otherDir = await mkdtemp(path.join(tmpdir(), 'firebreak-archive-other-'));
  try {
    const own = startArchiver({ client, archiveDir: ownDir, taskQueue: worker.taskQueue, log: () => {} });
    const other = startArchiver({ client, archiveDir: otherDir, taskQueue: 'another-engine', log: () => {} });
    let files: string[] = [];
    for (let i = 0; i < 50 && !files.includes(`${base}.md`); i++) {
      await own.tick();
      files = await readdir(ownDir);
      if (!files.includes(`${base}.md`)) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(files.includes(`${base}.md`), 'its own engine archives it');
    // Visibility has indexed the close (the own archiver saw it): the other engine's scan skips it.
    await other.tick();
    assert.ok(!(await readdir(otherDir)).some((file) => file.includes(base)), 'another queue’s archiver skips it');
    await Promise.all([other.stop(), own.stop()]);
  } finally {
    await rm(ownDir, { recursive: true, force: true });
    await rm(otherDir, { recursive: true, force: true });
  }
});
