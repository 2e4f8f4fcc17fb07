/**
 * Standard alerts, no rules written. kube-state-metrics series for the real pods of the bed's
 * control plane go into the bed's Prometheus; the kubernetes-mixin's own alert expressions (and
 * the usual OOM-kill rule) are evaluated there by PromQL; each result, with its rule's labels, is
 * what Prometheus would post — and is fired through amtool into the real Alertmanager, whose
 * webhook reaches this file's ingress. The default routing table and owner resolution must do the
 * rest: a crash-looping pod of a Deployment opens the P0 runbook for that Deployment, an
 * OOM-killed container opens OOM triage for it, and a StatefulSet's pod is answered 200 with the
 * reason nothing started.
 *
 * The only label added to the rules' output is `sink`, the bed Alertmanager's routing label (it
 * plays the part of a Prometheus external label), so concurrent test files never share a group.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { KubeConfig } from '@kubernetes/client-node';
import type { IncidentRecord } from '../common/types';
import { labelSetFingerprint } from '../ingress/alerts/labels';
import { resolveSignal, statusQuery } from '../domain/messages';
import { eventually, podNames, startAlertRig, workloadWithPod, type AlertRig } from './alerts-support';
import { amtoolAlert, bedAlertmanager, registerSink, type BedAlertmanager } from './bed/alertmanager';
import { remoteWrite, sampleSeries, type SeriesToWrite } from './bed/prometheus';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  kubeTestEnv,
  loadKubeConfig,
  settled,
} from './kube/fixtures';

/**
 * kubernetes-monitoring/kubernetes-mixin alerts/apps_alerts.libsonnet (2026), with
 * kubeStateMetricsSelector `job="kube-state-metrics"` and no namespace selector, as the mixin
 * renders by default. Rule labels: `severity: warning`.
 */
const MIXIN_CRASH_LOOPING =
  'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff", job="kube-state-metrics"}[5m]) >= 1';
/** samber/awesome-prometheus-alerts, rules/kubernetes/kubestate-exporter: KubernetesContainerOomKiller (warning). */
const OOM_KILLER =
  '(kube_pod_container_status_restarts_total - kube_pod_container_status_restarts_total offset 10m >= 1) ' +
  'and ignoring (reason) min_over_time(kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}[10m]) == 1';

const prometheusUrl = process.env.FIREBREAK_TEST_PROMETHEUS_URL;
const kube = kubeTestEnv();
const SKIP =
  prometheusUrl && kube && process.env.FIREBREAK_TEST_ALERTMANAGER_URL
    ? false
    : 'needs the temporal, kube, prometheus and alertmanager bed components';
const HOUR = 3600_000;

describe('kubernetes-mixin alerts with no route rules', { skip: SKIP }, () => {
  let rig: AlertRig;
  let bed: BedAlertmanager;
  let admin: KubeConfig;
  let unregister: (() => Promise<void>) | undefined;
  const sink = `mixin-${randomUUID().slice(0, 8)}`;
  const namespaces: string[] = [];
  const fired: Record<string, string>[] = [];
  let apps: string;
  let data: string;
  let crashingPod: string;
  let oomPod: string;
  let statefulPod: string;

  before(async () => {
    bed = bedAlertmanager();
    admin = loadKubeConfig(kube!.kubeconfig);
    apps = await createNamespace(admin, 'mixin-apps');
    data = await createNamespace(admin, 'mixin-data');
    namespaces.push(apps, data);
    await createDeployment(admin, apps, 'checkout', { replicas: 2 });
    await settled(kube!, apps, 'checkout');
    [crashingPod, oomPod] = (await podNames(admin, apps, 'checkout')) as [string, string];
    statefulPod = await workloadWithPod(admin, data, 'StatefulSet', 'db');
    rig = await startAlertRig({
      name: 'alerts-mixin',
      configYaml: '',
      env: { FIREBREAK_WEBHOOK_TOKEN: bed.token, FIREBREAK_WEBHOOK_BASIC_AUTH: bed.basicAuth },
      kubeconfig: kube!.kubeconfig,
    });
    unregister = await registerSink(bed, sink, `${rig.ingress.url}/webhooks/alertmanager`);
  });

  after(async () => {
    for (const labels of fired) await amtoolAlert(bed, labels, { end: new Date() }).catch(() => undefined);
    await unregister?.();
    await rig?.close();
    for (const namespace of namespaces) await deleteNamespace(admin, namespace);
  });

  /** The series kube-state-metrics exports for a pod's container, for the last 15 minutes. */
  function kubeStateSeries(namespace: string, pod: string, state: 'crash-looping' | 'oom-killed'): SeriesToWrite[] {
    const now = Date.now();
    const from = now - 15 * 60_000;
    const target = {
      job: 'kube-state-metrics',
      instance: '10.244.0.17:8080',
      namespace,
      pod,
      uid: randomUUID(),
      container: 'app',
    };
    const constant = (value: number) => sampleSeries(from, now, 15, () => value);
    if (state === 'crash-looping') {
      return [
        {
          labels: { __name__: 'kube_pod_container_status_waiting_reason', ...target, reason: 'CrashLoopBackOff' },
          samples: constant(1),
        },
      ];
    }
    return [
      {
        labels: { __name__: 'kube_pod_container_status_restarts_total', ...target },
        samples: sampleSeries(from, now, 15, (t) => (t < 6 * 60 ? 3 : 4)),
      },
      {
        labels: { __name__: 'kube_pod_container_status_last_terminated_reason', ...target, reason: 'OOMKilled' },
        samples: constant(1),
      },
    ];
  }

  /** Evaluates a rule's expression and fires each result with the rule's labels, as Prometheus would. */
  async function evaluateAndFire(
    alertname: string,
    expr: string,
    namespace: string,
  ): Promise<Record<string, string>[]> {
    const results = await eventually(`${alertname} results in ${namespace}`, async () => {
      const url = `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`;
      const answer = (await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).json()) as {
        data: { result: { metric: Record<string, string> }[] };
      };
      const mine = answer.data.result.filter((r) => r.metric.namespace === namespace);
      return mine.length > 0 ? mine : undefined;
    });
    const alerts = results.map((r) => ({ ...r.metric, alertname, severity: 'warning', sink }));
    for (const labels of alerts) {
      fired.push(labels);
      await amtoolAlert(bed, labels, { end: new Date(Date.now() + HOUR) });
    }
    return alerts;
  }

  async function incidentFor(alertname: string): Promise<{ handle: WorkflowHandle; record: IncidentRecord }> {
    return eventually(
      `the ${alertname} incident`,
      async () => {
        for (const id of await rig.workflows()) {
          const handle = rig.client.workflow.getHandle(id);
          const record = await handle.query(statusQuery);
          if (record.trigger.kind === 'alert' && record.trigger.groupKey.includes(`alertname="${alertname}"`)) {
            return record.alerts.length > 0 ? { handle, record } : undefined;
          }
        }
        return undefined;
      },
      30_000,
    );
  }

  test("KubePodCrashLooping on a Deployment's pod: the P0 runbook for that Deployment", async () => {
    await remoteWrite(prometheusUrl!, kubeStateSeries(apps, crashingPod, 'crash-looping'));
    const [labels] = await evaluateAndFire('KubePodCrashLooping', MIXIN_CRASH_LOOPING, apps);
    assert.deepEqual(Object.keys(labels!).sort(), [
      'alertname',
      'container',
      'instance',
      'job',
      'namespace',
      'pod',
      'reason',
      'severity',
      'sink',
      'uid',
    ]);
    const { handle, record } = await incidentFor('KubePodCrashLooping');
    assert.equal((await handle.describe()).type, 'p0ResponseWorkflow');
    assert.equal(record.runbook, 'p0-response');
    assert.deepEqual(record.target, { namespace: apps, deployment: 'checkout' });
    assert.equal(record.severity, 'P2', 'the mixin says warning');
    assert.equal(record.alerts[0]!.fingerprint, labelSetFingerprint(labels!), "our fingerprint is Alertmanager's");
    assert.equal(record.alerts[0]!.labels.pod, crashingPod);
  });

  test('an OOM-killed container (KubernetesContainerOomKiller): OOM triage for its Deployment', async () => {
    await remoteWrite(prometheusUrl!, kubeStateSeries(apps, oomPod, 'oom-killed'));
    const [labels] = await evaluateAndFire('KubernetesContainerOomKiller', OOM_KILLER, apps);
    assert.equal(labels!.pod, oomPod);
    assert.equal(labels!.reason, undefined, 'the rule ignores the reason label');
    const { handle, record } = await incidentFor('KubernetesContainerOomKiller');
    assert.equal((await handle.describe()).type, 'oomTriageWorkflow');
    assert.deepEqual(record.target, { namespace: apps, deployment: 'checkout' });
    assert.equal(record.severity, 'P2');
    // The crash-looping test's P0 incident still holds checkout, and one deployment takes one
    // remediation at a time: this incident waits until that one closes, then acts.
    const crashLooping = await incidentFor('KubePodCrashLooping');
    if ((await crashLooping.handle.describe()).status.name === 'RUNNING') {
      await crashLooping.handle.signal(resolveSignal, { actor: { id: 'U0MIXINTEST', name: 'mixin test' } });
    }
    const started = await eventually(
      'the OOM triage reading the pods',
      async () =>
        rig.world.made('findOomKills', (input) => (input as { deployment?: string }).deployment === 'checkout').at(0),
      60_000,
    );
    assert.deepEqual(started.input, { namespace: apps, deployment: 'checkout' });
  });

  test("a StatefulSet's crash-looping pod: answered 200 with the reason, nothing started", async () => {
    await remoteWrite(prometheusUrl!, kubeStateSeries(data, statefulPod, 'crash-looping'));
    const before = await rig.workflows();
    await evaluateAndFire('KubePodCrashLooping', MIXIN_CRASH_LOOPING, data);
    const line = await eventually('the reason logged', async () =>
      rig.ingress.logs.find((l) => l.includes(data) && l.includes('not started')),
    );
    assert.match(
      line,
      new RegExp(
        `not started: default: KubePodCrashLooping: not routed: pod ${data}/db-0: owner is StatefulSet db; ` +
          'no runbook handles StatefulSets',
      ),
    );
    assert.match(
      await rig.ingress.metrics.render(),
      /firebreak_alert_notifications_total\{outcome="unroutable",source="alertmanager"\} [1-9]/,
    );
    assert.deepEqual(await rig.workflows(), before);
  });
});
