/**
 * The incidents the chaos sweep runs: one per runbook, started the way an on-call engineer starts
 * it from Slack, on a target the scenario creates in the run's own namespace. Boundaries are not
 * listed here: the sweep reads them from each clean run's history.
 */
import { incidentWorkflowId } from '../../common/ids';
import { ALICE, type World } from '../e2e/harness';
import type { Scenario } from './sweep';

async function slash(world: World, text: string): Promise<void> {
  const answer = await world.slashCommand(text, ALICE);
  if (answer.status !== 200) throw new Error(`/firebreak ${text} answered ${answer.status}: ${answer.body}`);
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
];
