/**
 * Evidence activities on the bed's real control plane (kwok serves exec and logs) and the Slack
 * stand-in through the real WebClient: the heap profile streamed out through the exec's stdout,
 * previous logs, the cap, idempotent retries, the archive copy, and the external file upload
 * into the card's thread — bytes read back from the stand-in, sha256 compared.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { WebClient } from '@slack/web-api';
import { ApplicationFailure } from '@temporalio/common';
import { createEvidenceActivities, EvidenceStore, type EvidenceActivities } from '../activities/evidence';
import { ErrorType } from '../common/errors';
import { closeServer, listenOnLoopback } from './bed/process';
import { SlackStandIn } from './bed/slack-standin';
import {
  createDeployment,
  createNamespace,
  criLog,
  deleteNamespace,
  kubeTestEnv,
  loadKubeConfig,
  serveKwokLogs,
  settled,
  SKIP_WITHOUT_KUBE,
  waitUntil,
} from './kube/fixtures';

const TOKEN = 'xoxb-evidence-test';
const CHANNEL = 'C0EVIDENCE';
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function rejectsWith(promise: Promise<unknown>, type: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type, err.message);
    assert.equal(err.nonRetryable, true);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('evidence', { skip: SKIP_WITHOUT_KUBE }, () => {
  const profile = randomBytes(3 * 2 ** 20);
  let profileHits = 0;
  let service: Server;
  let serviceUrl = '';
  let kc: KubeConfig;
  let ns = '';
  let pod = '';
  let workDir = '';
  let store: EvidenceStore;
  let evidence: EvidenceActivities;
  const slack = new SlackStandIn({ tokens: [TOKEN] });
  let client: WebClient;

  before(async () => {
    const env = kubeTestEnv()!;
    kc = loadKubeConfig(env.kubeconfig);
    service = createServer((req, res) => {
      if (req.url === '/debug/pprof/heap') {
        profileHits += 1;
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(profile);
      } else {
        res.writeHead(404).end('no such profile');
      }
    });
    serviceUrl = `http://127.0.0.1:${await listenOnLoopback(service)}`;
    await slack.start();
    client = new WebClient(TOKEN, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    workDir = await mkdtemp(path.join(tmpdir(), 'firebreak-evidence-'));
    store = new EvidenceStore({ dir: path.join(workDir, 'evidence'), archiveDir: path.join(workDir, 'archive') });
    evidence = createEvidenceActivities({ kubeConfig: kc, store, slack: client, log: () => undefined });
    ns = await createNamespace(kc, 'evidence');
    await createDeployment(kc, ns, 'leaky', { replicas: 1 });
    await settled(env, ns, 'leaky');
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns, labelSelector: 'app=leaky' });
    pod = pods.items[0]!.metadata!.name!;
  });

  after(async () => {
    if (ns) await deleteNamespace(kc, ns);
    await slack.stop();
    if (service) await closeServer(service);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  test('the heap profile comes out through the exec stdout: bytes, sha256 and archive copy match; a retry reuses it', async () => {
    const input = { incidentId: 'incident:oom/a', namespace: ns, pod, url: `${serviceUrl}/debug/pprof/heap` };
    const ref = await evidence.captureHeapProfile(input);
    assert.equal(ref.bytes, profile.length);
    assert.equal(ref.sha256, sha256(profile));
    assert.equal(ref.truncated, false);
    assert.ok(ref.path.startsWith(store.dir), ref.path);
    assert.ok((await readFile(ref.path)).equals(profile), 'the stored file is the profile');
    assert.equal(ref.copies.length, 1);
    assert.ok((await readFile(ref.copies[0]!)).equals(profile), 'the archive copy is the profile');

    const again = await evidence.captureHeapProfile(input);
    assert.deepEqual(again, ref, 'same incident and artefact: the same file, not a second capture');
    assert.equal(profileHits, 1);
    const files = await readdir(path.dirname(ref.path));
    assert.deepEqual(files.sort(), [path.basename(ref.path), `${path.basename(ref.path)}.json`].sort());
  });

  test('a profile over the cap is cut there, says so, and the exec is ended', async () => {
    const small = new EvidenceStore({ dir: path.join(workDir, 'small'), maxBytes: 1 * 2 ** 20 });
    const capped = createEvidenceActivities({ kubeConfig: kc, store: small, slack: null, log: () => undefined });
    const ref = await capped.captureHeapProfile({
      incidentId: 'incident:oom/cap',
      namespace: ns,
      pod,
      url: `${serviceUrl}/debug/pprof/heap`,
    });
    assert.equal(ref.truncated, true);
    assert.equal(ref.bytes, 2 ** 20);
    assert.equal(ref.maxBytes, 2 ** 20);
    assert.equal(ref.sha256, sha256(profile.subarray(0, 2 ** 20)));
    assert.equal((await readFile(ref.path)).length, 2 ** 20);
  });

  test('a profile the pod cannot fetch fails with curl’s exit status and leaves no file', async () => {
    const incidentId = 'incident:oom/missing';
    // A kubelet reports NonZeroExitCode (→ EVIDENCE_UNAVAILABLE, with curl's stderr); kwok's local
    // exec reports an InternalError naming the exit status, which stays retryable.
    await assert.rejects(
      evidence.captureHeapProfile({ incidentId, namespace: ns, pod, url: `${serviceUrl}/nothing-here` }),
      /exit(ed| status) 22/,
    );
    assert.equal(await store.existing(incidentId, `heap-profile-${pod}-default.prof`), undefined);
    await rejectsWith(
      evidence.captureHeapProfile({ incidentId, namespace: ns, pod: 'no-such-pod', url: serviceUrl }),
      ErrorType.TARGET_NOT_FOUND,
    );
  });

  test('previous logs (kubectl logs --previous --tail) are kept; a log longer than the cap is cut', async () => {
    const lines = Array.from({ length: 40_000 }, (_, i) => `line ${i}`);
    await serveKwokLogs(
      kc,
      { namespace: ns, pod, dir: workDir },
      { current: criLog(['alive']), previous: criLog(lines) },
    );
    const core = kc.makeApiClient(CoreV1Api);
    await waitUntil('kwok to pick up the Logs object', async () => {
      const log = await core.readNamespacedPodLog({ name: pod, namespace: ns, container: 'app' }).catch(() => '');
      return log.length > 0;
    });
    const ref = await evidence.capturePreviousLogs({
      incidentId: 'incident:oom/logs',
      namespace: ns,
      pod,
      tailLines: 3,
    });
    assert.equal(await readFile(ref.path, 'utf8'), 'line 39997\nline 39998\nline 39999\n');
    assert.equal(ref.sha256, sha256(Buffer.from('line 39997\nline 39998\nline 39999\n')));
    assert.match(ref.name, /^previous-logs-.*-app\.log$/);

    const small = new EvidenceStore({ dir: path.join(workDir, 'small-logs'), maxBytes: 64 * 2 ** 10 });
    const capped = createEvidenceActivities({ kubeConfig: kc, store: small, slack: null, log: () => undefined });
    const cut = await capped.capturePreviousLogs({
      incidentId: 'incident:oom/logs',
      namespace: ns,
      pod,
      container: 'app',
      tailLines: 100_000,
    });
    assert.equal(cut.truncated, true);
    assert.equal(cut.bytes, 64 * 2 ** 10);
    assert.ok((await readFile(cut.path, 'utf8')).startsWith('line 0\nline 1\n'));
  });

  test('shared into the card’s thread with the external upload: the stand-in holds the same bytes; a retry posts nothing new', async () => {
    const card = await client.chat.postMessage({ channel: CHANNEL, text: 'incident card' });
    const ref = { channel: CHANNEL, ts: card.ts! };
    const artefact = await evidence.captureHeapProfile({
      incidentId: 'incident:oom/share',
      namespace: ns,
      pod,
      url: `${serviceUrl}/debug/pprof/heap`,
    });
    const shared = await evidence.shareEvidence({ incidentId: 'incident:oom/share', ref, artefact, comment: 'heap' });
    assert.ok(shared);
    const file = slack.file(shared.fileId);
    assert.ok(file, 'completed in the stand-in');
    assert.equal(file.encoding, 'raw');
    assert.ok(file.bytes!.equals(profile));
    assert.equal(sha256(file.bytes!), artefact.sha256);
    assert.equal(file.channel, CHANNEL);
    assert.equal(file.threadTs, card.ts);
    assert.equal(file.initialComment, 'heap');
    assert.deepEqual(
      slack.calls.filter((c) => c.method.startsWith('files.')).map((c) => c.method),
      ['files.getUploadURLExternal', 'files.completeUploadExternal'],
    );

    const again = await evidence.shareEvidence({ incidentId: 'incident:oom/share', ref, artefact, comment: 'heap' });
    assert.deepEqual(again, shared);
    assert.equal(slack.callsOf('files.getUploadURLExternal').length, 1, 'the retry found its marker');
    assert.deepEqual(slack.filesIn(CHANNEL, card.ts), [file]);
  });

  test('a stored file that no longer matches its sha256 is refused, not shared', async () => {
    const card = await client.chat.postMessage({ channel: CHANNEL, text: 'another card' });
    const artefact = await evidence.captureHeapProfile({
      incidentId: 'incident:oom/tampered',
      namespace: ns,
      pod,
      url: `${serviceUrl}/debug/pprof/heap`,
    });
    const altered = Buffer.from(profile);
    altered[0] = altered[0]! ^ 0xff;
    await writeFile(artefact.path, altered);
    await rejectsWith(
      evidence.shareEvidence({
        incidentId: 'incident:oom/tampered',
        ref: { channel: CHANNEL, ts: card.ts! },
        artefact,
      }),
      ErrorType.EVIDENCE_UNAVAILABLE,
      /no longer matches its sha256/,
    );
    assert.deepEqual(slack.filesIn(CHANNEL, card.ts), []);
  });

  test('the stand-in speaks the upload protocol: multipart (filesUploadV2), length 0, unknown file ids', async () => {
    const card = await client.chat.postMessage({ channel: CHANNEL, text: 'v2 card' });
    const content = randomBytes(10_000);
    const v2 = await client.filesUploadV2({
      channel_id: CHANNEL,
      thread_ts: card.ts!,
      file: content,
      filename: 'v2.bin',
    });
    const completed = (v2.files as { files?: { id?: string }[] }[])[0]!.files![0]!.id!;
    assert.equal(slack.file(completed)?.encoding, 'multipart');
    assert.ok(slack.file(completed)?.bytes?.equals(content));

    await assert.rejects(client.files.getUploadURLExternal({ filename: 'empty.log', length: 0 }), /missing_argument/);
    await assert.rejects(
      client.files.completeUploadExternal({ files: [{ id: 'F0NOTHERE' }], channel_id: CHANNEL }),
      /file_not_found/,
    );
    await assert.rejects(
      client.files.completeUploadExternal({ files: [{ id: completed }], channel_id: CHANNEL }),
      /file_not_found/,
      'a completed upload cannot be completed again',
    );
    const pending = await client.files.getUploadURLExternal({ filename: 'never-sent.bin', length: 5 });
    await assert.rejects(
      client.files.completeUploadExternal({ files: [{ id: pending.file_id! }], channel_id: CHANNEL }),
      /file_not_found/,
      'no bytes were posted to its upload URL',
    );
  });
});
