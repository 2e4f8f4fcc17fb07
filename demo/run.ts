/**
 * `npm run demo`: Firebreak from nothing to a postmortem, on this machine, in a few minutes.
 *
 *  1. starts a real Kubernetes control plane (kwok fake node), Alertmanager and Prometheus on loopback;
 *  2. deploys a sample service, `demo/checkout`, and makes its container look OOM-killed (exit 137);
 *  3. starts `firebreak start` — embedded Temporal dev server, worker, ingress — with a config that
 *     routes OOM alerts to the OOM triage runbook;
 *  4. fires `KubePodOOMKilled` into Alertmanager with amtool; Alertmanager notifies Firebreak;
 *  5. follows the runbook, approves its gate through the CLI (and says so), resolves the alert,
 *     approves restoring the temporary mitigations;
 *  6. prints the postmortem and removes everything it started.
 *
 * Nothing outside a temporary directory is touched besides the binary cache (~/.cache/firebreak).
 * The whole run is bounded (default 5 minutes after the bed is up; `--timeout <seconds>`); on
 * Ctrl-C or a timeout it cleans up and says what it was waiting for.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { IncidentRecord, TimelineEntry } from '../common/types';
import { amtoolAlert, BED_WEBHOOK_TOKEN, registerSink, startAlertmanager } from '../test/bed/alertmanager';
import { startKube } from '../test/bed/kube';
import { remoteWrite, sampleSeries, startPrometheus } from '../test/bed/prometheus';
import { freePort } from '../test/bed/ports';
import { Cluster, containerEnv, FirebreakProcess, ROOT, ServiceEndpoint, sleep } from '../test/e2e/harness';

const NAMESPACE = 'demo';
const SERVICE = 'checkout';
const DEMO_USER = 'demo';

const bold = (text: string) => (process.stdout.isTTY ? `\u001b[1m${text}\u001b[0m` : text);
const say = (text: string) => console.log(`\n${bold('▶')} ${text}`);
const detail = (text: string) => console.log(`  ${text}`);

class DemoTimeout extends Error {}

async function main(): Promise<number> {
  const timeoutArg = process.argv.indexOf('--timeout');
  const timeoutSeconds = timeoutArg >= 0 ? Number(process.argv[timeoutArg + 1]) : 300;
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 30) {
    console.error('usage: npm run demo [-- --timeout <seconds ≥ 30>] [--save-postmortem <file.md>]');
    return 2;
  }
  const saveArg = process.argv.indexOf('--save-postmortem');
  const savePostmortemTo = saveArg >= 0 ? process.argv[saveArg + 1] : undefined;
  const workDir = await mkdtemp(path.join(tmpdir(), 'firebreak-demo-'));
  const cleanups: { what: string; run: () => Promise<void> }[] = [];
  let waitingFor = 'the test bed';
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const bedLog = (msg: string) => detail(msg.replace(/^kube: /, ''));

  /** Polls with the demo's deadline; a Ctrl-C or the deadline ends the demo with what it was waiting for. */
  let deadline = Number.POSITIVE_INFINITY;
  const until = async <T>(what: string, probe: () => Promise<T | undefined>, intervalMs = 500): Promise<T> => {
    waitingFor = what;
    for (;;) {
      if (interrupted) throw new DemoTimeout(`interrupted while waiting for ${what}`);
      if (Date.now() > deadline) throw new DemoTimeout(`gave up after ${timeoutSeconds} s waiting for ${what}`);
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      await sleep(intervalMs);
    }
  };

  try {
    say('Starting a Kubernetes control plane (etcd, kube-apiserver, controllers, scheduler, kwok fake node)');
    detail('First run only: the binaries are built from Go modules into ~/.cache/firebreak, which takes a while.');
    const kube = await startKube({ workDir: path.join(workDir, 'kube'), log: bedLog });
    cleanups.push({ what: 'the Kubernetes control plane', run: () => kube.stop() });
    say('Starting Alertmanager (prometheus-alertmanager) with a webhook receiver for Firebreak');
    const alertmanager = await startAlertmanager({ workDir: path.join(workDir, 'alertmanager'), log: detail });
    cleanups.push({ what: 'Alertmanager', run: () => alertmanager.stop() });
    say('Starting Prometheus, where the runbook reads the memory trend');
    const prometheus = await startPrometheus({ workDir: path.join(workDir, 'prometheus'), log: detail });
    cleanups.push({ what: 'Prometheus', run: () => prometheus.stop() });
    const prometheusUrl = prometheus.env.FIREBREAK_TEST_PROMETHEUS_URL!;
    deadline = Date.now() + timeoutSeconds * 1000;

    const cluster = new Cluster({
      temporalAddress: '',
      namespace: 'default',
      kubeconfig: kube.env.FIREBREAK_TEST_KUBECONFIG!,
      kubectl: kube.env.FIREBREAK_TEST_KUBECTL!,
    });
    const service = new ServiceEndpoint();
    await service.start();
    cleanups.push({ what: 'the sample service endpoint', run: () => service.stop() });

    say(`Deploying the sample service ${NAMESPACE}/${SERVICE} (memory limit 256Mi)`);
    await cluster.core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
    await cluster.deploy(NAMESPACE, SERVICE, {
      replicas: 2,
      limits: { memory: '256Mi' },
      image: 'registry.example/checkout:1.4.2',
    });
    const pod = await cluster.markOomKilled(NAMESPACE, SERVICE);
    detail(`Pod ${pod} now reports its last termination as OOMKilled, exit code 137 — as a kubelet would.`);
    // Ten minutes of resident memory growing 2 MB/s: what a leaking process looks like to Prometheus.
    const now = Date.now();
    await remoteWrite(prometheusUrl, [
      {
        labels: { __name__: 'process_resident_memory_bytes', namespace: NAMESPACE, pod, job: SERVICE },
        samples: sampleSeries(now - 600_000, now, 15, (s) => 120_000_000 + 2_000_000 * s),
      },
    ]);
    detail('Prometheus holds ten minutes of its resident memory, growing about 2 MB/s.');

    say('Starting Firebreak: `firebreak start` with its embedded Temporal dev server');
    const [port, temporalPort] = [await freePort(), await freePort()];
    const configPath = path.join(workDir, 'firebreak.yaml');
    await writeFile(
      configPath,
      toYaml({
        policy: { ackDeadline: { P1: '10m' }, gateDeadline: '3m', restoreAfter: '2m' },
        approvers: { users: [`cli:${DEMO_USER}`] },
        routes: [
          {
            name: 'oom-kills',
            match: { alertname: '~KubePodOOMKilled|ContainerOOMKilled' },
            runbook: 'oom-triage',
            severity: { label: 'severity', map: { critical: 'P1', warning: 'P2' } },
            params: { heapProfileUrl: { annotation: 'heap_url' }, trendWindowSeconds: { value: '900' } },
          },
        ],
      }),
    );
    const engineEnv: Record<string, string> = {
      FIREBREAK_PORT: String(port),
      FIREBREAK_TEMPORAL_PORT: String(temporalPort),
      FIREBREAK_DATA_DIR: path.join(workDir, 'firebreak-data'),
      FIREBREAK_ARCHIVE_DIR: path.join(workDir, 'postmortems'),
      FIREBREAK_CONFIG: configPath,
      FIREBREAK_WEBHOOK_TOKEN: BED_WEBHOOK_TOKEN,
      KUBECONFIG: kube.env.FIREBREAK_TEST_KUBECONFIG!,
      PROMETHEUS_URL: prometheusUrl,
    };
    const engine = new FirebreakProcess(engineEnv, `http://127.0.0.1:${port}`);
    cleanups.push({ what: 'Firebreak', run: () => engine.stop() });
    waitingFor = 'firebreak start';
    await engine.start(Math.max(30_000, deadline - Date.now()));
    detail(
      `Ingress ${engine.url}, Temporal 127.0.0.1:${temporalPort} (Web UI http://127.0.0.1:${temporalPort + 1000})`,
    );
    const am = {
      url: alertmanager.env.FIREBREAK_TEST_ALERTMANAGER_URL!,
      relayUrl: alertmanager.env.FIREBREAK_TEST_ALERTMANAGER_RELAY_URL!,
      token: BED_WEBHOOK_TOKEN,
      basicAuth: '',
    };
    // The bed's Alertmanager relays groups labelled sink="demo" to this ingress's webhook.
    cleanups.push({
      what: 'the Alertmanager receiver',
      run: await registerSink(am, 'demo', `${engine.url}/webhooks/alertmanager`),
    });

    // Asynchronous on purpose: Alertmanager's relay and the sample service live in this process.
    const firebreak = (args: string[]) =>
      new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          [path.join(ROOT, 'bin', 'firebreak.mjs'), ...args],
          {
            cwd: ROOT,
            env: {
              ...process.env,
              ...engineEnv,
              FIREBREAK_USER: DEMO_USER,
              TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
            },
            timeout: 60_000,
            maxBuffer: 16 * 1024 * 1024,
          },
          (err, stdout, stderr) =>
            err ? reject(new Error(`firebreak ${args.join(' ')} failed:\n${stderr}${stdout}`)) : resolve(stdout),
        );
      });
    const labels = {
      alertname: 'KubePodOOMKilled',
      severity: 'critical',
      namespace: NAMESPACE,
      deployment: SERVICE,
      sink: 'demo',
    };

    say('Firing KubePodOOMKilled into Alertmanager with amtool');
    detail(
      `amtool alert add alertname=KubePodOOMKilled severity=critical namespace=${NAMESPACE} deployment=${SERVICE} ...`,
    );
    await amtoolAlert(am, labels, { annotations: { heap_url: service.heapUrl, summary: 'checkout was OOM-killed' } });

    const workflowId = await until('Alertmanager to notify Firebreak and the incident to start', async () => {
      const rows: { workflowId: string }[] = JSON.parse(await firebreak(['incidents', '--json']));
      return rows.find((row) => row.workflowId.startsWith('alert:alertmanager:'))?.workflowId;
    });
    say(`Incident started by the alert: ${workflowId}`);
    // The heap profile and previous logs stream out of the pod into <data dir>/evidence (inside workDir).

    const status = async (): Promise<IncidentRecord> => JSON.parse(await firebreak(['status', workflowId, '--json']));
    let shown = 0;
    const follow = (record: IncidentRecord) => {
      for (const entry of record.timeline.slice(shown)) printEntry(entry);
      shown = Math.max(shown, record.timeline.length);
    };
    const atGate = await until('the runbook to reach its approval gate', async () => {
      const record = await status();
      follow(record);
      return record.gates.some((g) => g.name === 'disable-trace-export' && g.status === 'pending') ? record : undefined;
    });
    const gate = atGate.gates.find((g) => g.name === 'disable-trace-export')!;
    say(`The runbook asks a human: "${gate.prompt}"`);
    detail(`The demo approves it through the CLI, as user "${DEMO_USER}":`);
    detail(`$ firebreak approve ${workflowId} --gate disable-trace-export`);
    console.log(indent(await firebreak(['approve', workflowId, '--gate', 'disable-trace-export'])));

    await until('trace export to be disabled', async () => {
      const record = await status();
      follow(record);
      return record.mitigations.some((m) => m.change.kind === 'env' && m.change.name === 'OTEL_TRACES_EXPORTER')
        ? record
        : undefined;
    });
    const mitigated = await cluster.deployment(NAMESPACE, SERVICE);
    say('What the cluster looks like now (kubectl):');
    detail(`memory limit: ${mitigated.spec?.template.spec?.containers[0]?.resources?.limits?.memory}`);
    detail(`env: ${JSON.stringify(containerEnv(mitigated))}`);

    say('The OOM kills stop; Alertmanager sends the resolution (amtool with an end time)');
    await amtoolAlert(am, labels, { start: new Date(Date.now() - 120_000), end: new Date(Date.now() - 1_000) });
    await until('the incident to be resolved by its alert', async () => {
      const record = await status();
      follow(record);
      return record.gates.some((g) => g.name === 'restore' && g.status === 'pending') ? record : undefined;
    });
    say('Firebreak offers to restore the temporary mitigations; the demo approves through the CLI:');
    detail(`$ firebreak approve ${workflowId} --gate restore`);
    console.log(indent(await firebreak(['approve', workflowId, '--gate', 'restore'])));
    await until('the incident to close', async () => {
      const record = await status();
      follow(record);
      return record.closedAt ? record : undefined;
    });
    const restored = await cluster.deployment(NAMESPACE, SERVICE);
    detail(`memory limit: ${restored.spec?.template.spec?.containers[0]?.resources?.limits?.memory}`);
    detail(`env: ${JSON.stringify(containerEnv(restored))}`);

    say(`The postmortem, built from the workflow history: firebreak postmortem ${workflowId}`);
    const postmortem = await firebreak(['postmortem', workflowId]);
    console.log(postmortem);
    if (savePostmortemTo) {
      await writeFile(savePostmortemTo, postmortem.endsWith('\n') ? postmortem : `${postmortem}\n`);
      detail(`postmortem saved to ${savePostmortemTo}`);
    }
    say('Done. Cleaning up everything the demo started.');
    return 0;
  } catch (err) {
    if (err instanceof DemoTimeout) {
      console.error(`\nThe demo stopped: ${err.message}.`);
    } else {
      console.error(
        `\nThe demo failed while waiting for ${waitingFor}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    return 1;
  } finally {
    for (const { what, run } of cleanups.reverse()) {
      await run().catch((err: unknown) => console.error(`  stopping ${what} failed: ${String(err)}`));
    }
    await rm(workDir, { recursive: true, force: true });
  }
}

function printEntry(entry: TimelineEntry): void {
  const time = entry.at.slice(11, 19);
  const [first, ...rest] = entry.message.split('\n');
  console.log(`  ${time}  ${entry.kind.padEnd(12)} ${first}`);
  for (const line of rest.slice(0, 4)) console.log(`  ${' '.repeat(8)}  ${' '.repeat(12)} ${line}`);
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

main()
  .then((code) => process.exit(code))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
