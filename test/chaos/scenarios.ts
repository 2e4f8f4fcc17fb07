/**
 * The incidents the chaos sweep runs: one per runbook started the way an on-call engineer starts
 * it from Slack, and per alert-routed runbook one started by an Alertmanager notification posted to
 * the ingress's webhook, each on a target the scenario creates in the run's own namespace.
 * Boundaries are not listed here: the sweep reads them from each clean run's history.
 */
import { incidentWorkflowId } from '../../common/ids';
import { ALICE, type AlertSpec, type World } from '../e2e/harness';
import type { Scenario } from './sweep';

async function slash(world: World, text: string): Promise<void> {
  const answer = await world.slashCommand(text, ALICE);
  if (answer.status !== 200) throw new Error(`/firebreak ${text} answered ${answer.status}: ${answer.body}`);
}

/**
 * An Alertmanager v4 notification for the run's target, POSTed to the ingress as Alertmanager's
 * webhook receiver does; the group key names the namespace, so every run opens its own incident.
 */
async function alert(world: World, alertname: string, ns: string, deployment: string, extra: Partial<AlertSpec> = {}) {
  const groupKey = `{}/{alertname="${alertname}"}:{deployment="${deployment}", namespace="${ns}"}`;
  // The ingress answers once the incident is started: on a loaded machine that can take longer
  // than an alert test's 10 s, and a timed-out start is the harness failing, not the engine.
  const accepted = await world.postAlerts(
    groupKey,
    [{ labels: { alertname, severity: 'critical', namespace: ns, deployment }, ...extra }],
    'firing',
    world.engine,
    60_000,
  );
  if (accepted.outcome !== 'accepted') throw new Error(`the alert was not accepted: ${JSON.stringify(accepted)}`);
  return accepted.workflowId;
}

export const SCENARIOS: Scenario[] = [
  {
    runbook: 'p0-response',
    trigger: 'slack',
    async setUp(world, ns) {
      world.service.healthy = true;
      await world.cluster.deploy(ns, 'web', { replicas: 1 });
    },
    async start(world, ns) {
      // P1, so the restart waits at its approval gate: the sweep then crosses an update too.
      await slash(world, `p0 ${ns}/web severity=P1 healthUrl=${world.service.healthUrl}`);
      return incidentWorkflowId('p0-response', { namespace: ns, deployment: 'web' });
    },
  },
  {
    runbook: 'emergency-rollback',
    trigger: 'slack',
    async setUp(world, ns) {
      world.service.healthy = true;
      await world.cluster.deploy(ns, 'api', { replicas: 1, image: 'registry.example/api:v1' });
      await world.cluster.setImage(ns, 'api', 'registry.example/api:v2-broken');
    },
    async start(world, ns) {
      await slash(world, `rollback ${ns}/api healthUrl=${world.service.healthUrl}`);
      return incidentWorkflowId('emergency-rollback', { namespace: ns, deployment: 'api' });
    },
  },
  {
    runbook: 'avalanche-mitigation',
    trigger: 'slack',
    async setUp(world, ns) {
      await Promise.all([
        world.cluster.deploy(ns, 'orders', { replicas: 1 }),
        world.cluster.deploy(ns, 'payments', { replicas: 1, env: [{ name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.5' }] }),
      ]);
    },
    async start(world, ns) {
      await slash(world, `avalanche ${ns}/orders,payments replicas=2`);
      return incidentWorkflowId('avalanche-mitigation', { namespace: ns, deployment: 'orders' });
    },
  },
  {
    runbook: 'oom-triage',
    trigger: 'slack',
    async setUp(world, ns) {
      await world.cluster.deploy(ns, 'cache', { replicas: 1, limits: { memory: '256Mi' } });
      await world.cluster.markOomKilled(ns, 'cache');
    },
    async start(world, ns) {
      await slash(world, `oom ${ns}/cache memoryPolicy=double memoryCap=4Gi heapProfile=false exporterQueueSize=256`);
      return incidentWorkflowId('oom-triage', { namespace: ns, deployment: 'cache' });
    },
  },
  {
    runbook: 'p0-response',
    trigger: 'alert',
    routes: [
      {
        name: 'chaos-service-down',
        match: { alertname: 'ChaosServiceDown' },
        runbook: 'p0-response',
        // P1 as the Slack scenario, so the restart waits at its approval gate.
        severity: 'P1',
        params: { healthUrl: { annotation: 'health_url' } },
      },
    ],
    async setUp(world, ns) {
      world.service.healthy = true;
      await world.cluster.deploy(ns, 'web', { replicas: 1 });
    },
    async start(world, ns) {
      return alert(world, 'ChaosServiceDown', ns, 'web', { annotations: { health_url: world.service.healthUrl } });
    },
  },
  {
    runbook: 'oom-triage',
    trigger: 'alert',
    routes: [
      {
        name: 'chaos-oom-kills',
        match: { alertname: 'ChaosOOMKilled' },
        runbook: 'oom-triage',
        severity: 'P1',
        params: {
          memoryPolicy: { value: 'double' },
          memoryCap: { value: '4Gi' },
          heapProfile: { value: 'false' },
          exporterQueueSize: { value: '256' },
        },
      },
    ],
    async setUp(world, ns) {
      await world.cluster.deploy(ns, 'cache', { replicas: 1, limits: { memory: '256Mi' } });
      await world.cluster.markOomKilled(ns, 'cache');
    },
    async start(world, ns) {
      return alert(world, 'ChaosOOMKilled', ns, 'cache');
    },
  },
];
