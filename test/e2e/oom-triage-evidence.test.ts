/**
 * OOM triage's evidence on the real engine and control plane: the heap profile and the killed
 * container's previous logs leave the pod BEFORE the limit change replaces it. After the pod is
 * gone, both are read back from the evidence store (and its archive copy) and from the files the
 * Slack stand-in received in the card's thread, sha256 for sha256; nothing was written in the pod
 * (kwok runs exec on this machine, so a file in /tmp would survive here and hide the loss — the
 * test checks none was written), and the postmortem lists each artefact with size and sha256.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { EvidenceRef } from '../../activities/evidence';
import { incidentWorkflowId } from '../../common/ids';
import { criLog, serveKwokLogs } from '../kube/fixtures';
import { BOB, eventually, SKIP_WITHOUT_E2E_BED, SLACK_CHANNEL, worldForSuite } from './harness';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('oom-triage evidence end to end', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  const world = worldForSuite({ name: 'oomevidence' });

  test('heap profile and previous logs survive the pod being replaced: evidence store, archive and Slack thread hold the same bytes', async () => {
    const ns = world.namespace;
    // A profile big enough that it cannot hide in a timeline entry or a payload.
    const profile = randomBytes(2 * 2 ** 20);
    world.service.heapProfile = profile;
    await world.cluster.deploy(ns, 'leaky', { replicas: 1, limits: { memory: '256Mi' } });
    const pod = await world.cluster.markOomKilled(ns, 'leaky');

    // What the killed container said before the kernel took it (kwok serves it as --previous).
    const previous = ['heap at 97%', 'java.lang.OutOfMemoryError: Java heap space', 'killed'];
    await serveKwokLogs(
      world.cluster.admin,
      { namespace: ns, pod, dir: world.workDir },
      { current: criLog(['restarted'], 'stderr'), previous: criLog(previous, 'stderr') },
    );
    await eventually(
      'kwok to serve the previous log',
      async () => (await world.cluster.kubectl(['-n', ns, 'logs', pod, '--previous'])).stdout.includes('killed'),
      30_000,
      500,
    );

    const params = ['--param', `heapProfileUrl=${world.service.heapUrl}`, '--param', 'offerDisableTraceExport=false'];
    await world.cliOk(['run', 'oom', '--target', `${ns}/leaky`, ...params, '--no-wait'], 'carol');
    const workflowId = incidentWorkflowId('oom-triage', { namespace: ns, deployment: 'leaky' });
    const mitigated = await world.waitFor(workflowId, 'mitigated', (r) => r.status === 'mitigated', 120_000);

    // The limit change replaced the pod the evidence came from.
    await eventually(
      `pod ${pod} to be gone`,
      async () => (await world.cluster.kubectl(['-n', ns, 'get', 'pod', pod])).stderr.includes('NotFound'),
      90_000,
      1_000,
    );
    // Nothing was ever written in the pod (the old runbook left /tmp/firebreak-heap-<id>.prof there).
    const inPod = `/tmp/firebreak-heap-${mitigated.id.replace(/[^A-Za-z0-9-]/g, '_')}.prof`;
    assert.equal(existsSync(inPod), false, `${inPod} was written`);

    const refs = mitigated.timeline.flatMap((e) => (e.data?.evidence ? [e.data.evidence as EvidenceRef] : []));
    const heap = refs.find((r) => r.name.startsWith('heap-profile-'));
    const logs = refs.find((r) => r.name.startsWith('previous-logs-'));
    assert.ok(heap, `no heap profile kept: ${mitigated.timeline.map((e) => e.message).join('\n')}\n${world.logs()}`);
    assert.ok(logs, `no previous logs kept: ${mitigated.timeline.map((e) => e.message).join('\n')}`);
    // Evidence came before any change.
    const at = (step: string) => mitigated.timeline.findIndex((e) => e.data?.step === step);
    assert.ok(at('keep-evidence') >= 0 && at('keep-evidence') < at('raise-memory-limit'));

    const expectedLogs = Buffer.from(previous.map((l) => `${l}\n`).join(''));
    for (const [ref, bytes] of [
      [heap, profile],
      [logs, expectedLogs],
    ] as const) {
      assert.equal(ref.bytes, bytes.length, ref.name);
      assert.equal(ref.sha256, sha256(bytes), ref.name);
      assert.equal(ref.truncated, false);
      assert.ok(ref.path.startsWith(path.join(world.workDir, 'data', 'evidence')), ref.path);
      assert.ok((await readFile(ref.path)).equals(bytes), `${ref.name} in the evidence store`);
      assert.equal(ref.copies.length, 1);
      assert.ok(ref.copies[0]!.startsWith(path.join(world.workDir, 'archive', 'evidence')), ref.copies[0]);
      assert.ok((await readFile(ref.copies[0]!)).equals(bytes), `${ref.name} in the archive`);
    }
    assert.match(
      mitigated.timeline.map((e) => e.message).join('\n'),
      new RegExp(`Evidence kept: ${heap.name}, ${profile.length} bytes, sha256 ${heap.sha256}`),
    );

    // The same bytes, as files in the card's thread.
    const card = mitigated.slack!;
    const files = await eventually(
      'both files in the thread',
      () => {
        const shared = world.slack.filesIn(SLACK_CHANNEL, card.ts);
        return shared.length === 2 ? shared : undefined;
      },
      60_000,
      250,
    );
    const uploaded = new Map(files.map((f) => [f.filename, f]));
    assert.equal(sha256(uploaded.get(heap.name)!.bytes!), heap.sha256);
    assert.ok(uploaded.get(heap.name)!.bytes!.equals(profile));
    assert.ok(uploaded.get(logs.name)!.bytes!.equals(expectedLogs));
    assert.equal(card.channel, SLACK_CHANNEL);

    await world.cliOk(['resolve', workflowId], 'carol');
    const restore = await world.gateButton(workflowId, 'restore', 'approve');
    assert.equal((await world.click(restore, BOB)).status, 200);
    await world.result(workflowId);

    const postmortem = await world.postmortem(workflowId);
    const listed = new Map(postmortem.evidence.map((e) => [e.name, e]));
    assert.equal(listed.get(heap.name)?.sha256, heap.sha256);
    assert.equal(listed.get(heap.name)?.bytes, profile.length);
    assert.equal(listed.get(logs.name)?.sha256, logs.sha256);
    assert.equal(listed.get(heap.name)?.slackFileId, uploaded.get(heap.name)!.id);
    const markdown = await world.cliOk(['postmortem', workflowId, '--format', 'md']);
    assert.match(markdown, /## Evidence/);
    assert.ok(markdown.includes(heap.sha256) && markdown.includes(logs.sha256));
  });
});
