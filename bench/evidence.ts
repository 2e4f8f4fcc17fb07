/**
 * What keeping a 20 MiB heap profile costs, end to end on the bed's control plane (kwok serves the
 * exec; the command runs on this machine) and the Slack stand-in through the real WebClient:
 * capture (curl in the pod, streamed out through the exec's stdout into the evidence store, hashed
 * and copied to the archive directory), then the external upload into a thread
 * (files.getUploadURLExternal, POST of the bytes, files.completeUploadExternal). Each run is a new
 * incident, so nothing is reused. Median, min and max of N runs; the stored size and the sha256
 * check against the bytes the stand-in received.
 *
 *   npm run bench -- --bed kube bench/evidence.ts [--runs 5] [--mib 20]
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { WebClient } from '@slack/web-api';
import { createEvidenceActivities, EvidenceStore } from '../activities/evidence';
import { closeServer, listenOnLoopback } from '../test/bed/process';
import { SlackStandIn } from '../test/bed/slack-standin';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  kubeTestEnv,
  loadKubeConfig,
  settled,
} from '../test/kube/fixtures';
import { percentile, positiveIntArg, writeBenchResult } from './support';

const TOKEN = 'xoxb-bench-evidence';
const CHANNEL = 'C0BENCH';

const figures = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), min: sorted[0], max: sorted.at(-1) };
};

async function main(): Promise<void> {
  const runs = positiveIntArg(process.argv, 'runs', 5);
  const mib = positiveIntArg(process.argv, 'mib', 20);
  const env = kubeTestEnv();
  if (!env) throw new Error('needs the Kubernetes bed: npm run bench -- --bed kube bench/evidence.ts');
  const kc = loadKubeConfig(env.kubeconfig);
  const profile = randomBytes(mib * 2 ** 20);
  const profileSha = createHash('sha256').update(profile).digest('hex');
  const service = createServer((_req, res) => res.writeHead(200).end(profile));
  const url = `http://127.0.0.1:${await listenOnLoopback(service)}/debug/pprof/heap`;
  const slack = new SlackStandIn({ tokens: [TOKEN] });
  await slack.start();
  const client = new WebClient(TOKEN, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
  const workDir = await mkdtemp(path.join(tmpdir(), 'firebreak-bench-evidence-'));
  const store = new EvidenceStore({ dir: path.join(workDir, 'evidence'), archiveDir: path.join(workDir, 'archive') });
  const evidence = createEvidenceActivities({ kubeConfig: kc, store, slack: client, log: () => undefined });
  const ns = await createNamespace(kc, 'bench-evidence');
  const capture: number[] = [];
  const upload: number[] = [];
  const total: number[] = [];
  let stored = 0;
  let archived = 0;
  try {
    await createDeployment(kc, ns, 'leaky', { replicas: 1 });
    await settled(env, ns, 'leaky');
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns, labelSelector: 'app=leaky' });
    const pod = pods.items[0]!.metadata!.name!;
    for (let i = 0; i < runs; i++) {
      const card = await client.chat.postMessage({ channel: CHANNEL, text: `incident ${i}` });
      const incidentId = `bench:evidence/${i}-${Date.now()}`;
      const started = performance.now();
      const ref = await evidence.captureHeapProfile({ incidentId, namespace: ns, pod, url });
      const captured = performance.now();
      const shared = await evidence.shareEvidence({
        incidentId,
        ref: { channel: CHANNEL, ts: card.ts! },
        artefact: ref,
      });
      const done = performance.now();
      const received = slack.file(shared!.fileId)?.bytes;
      if (ref.sha256 !== profileSha || !received || !received.equals(profile)) {
        throw new Error(`run ${i}: the stored or uploaded bytes differ from the profile`);
      }
      // The stand-in keeps every upload in memory; drop this one so runs do not add up.
      slack.uploads.delete(shared!.fileId);
      stored = (await stat(ref.path)).size;
      archived = (await stat(ref.copies[0]!)).size;
      capture.push(Math.round(captured - started));
      upload.push(Math.round(done - captured));
      total.push(Math.round(done - started));
      console.log(`run ${i + 1}/${runs}: capture ${capture.at(-1)} ms, upload ${upload.at(-1)} ms`);
    }
  } finally {
    await deleteNamespace(kc, ns);
    await slack.stop();
    await closeServer(service);
    await rm(workDir, { recursive: true, force: true });
  }
  const result = {
    runs,
    profileBytes: profile.length,
    storedBytes: stored,
    archiveCopyBytes: archived,
    captureMs: figures(capture),
    uploadMs: figures(upload),
    captureStoreUploadMs: figures(total),
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(`written to ${await writeBenchResult('evidence', result)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
