/**
 * The sweep's comparator without a bed: when the deployment controller counts as done with a spec,
 * and how a difference is named. The regression case is avalanche-mitigation
 * `started:setDeploymentEnv#1` (docs/reliability.md): the Deployment's spec, generation and
 * annotations were the clean run's, but the cluster was read while the controller's revision
 * annotation still named the ReplicaSet of an earlier template (observedGeneration already equal
 * to generation), so the "current ReplicaSet" still had the mitigation's env and the run differed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import { controllerPending, pathDiff } from './sweep';

const REVISION = 'deployment.kubernetes.io/revision';
const RESTARTED = { 'kubectl.kubernetes.io/restartedAt': '2026-12-03T10:00:00Z' };

function template(env: { name: string; value: string }[], hash?: string) {
  return {
    metadata: { annotations: RESTARTED, labels: { app: 'orders', ...(hash ? { 'pod-template-hash': hash } : {}) } },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:v1', ...(env.length > 0 ? { env } : {}) }] },
  };
}

/** The restored Deployment, as its last restore left it: spec observed, revision annotation `revision`. */
function deployment(revision: string, observedGeneration = 7): V1Deployment {
  return {
    metadata: { name: 'orders', generation: 7, annotations: { [REVISION]: revision } },
    spec: { replicas: 1, selector: { matchLabels: { app: 'orders' } }, template: template([]) },
    status: { observedGeneration },
  } as V1Deployment;
}

function replicaSet(name: string, revision: string, env: { name: string; value: string }[]) {
  return {
    metadata: {
      name,
      annotations: { [REVISION]: revision },
      ownerReferences: [{ kind: 'Deployment', name: 'orders' }],
    },
    spec: { template: template(env, name.split('-')[1]) },
  };
}

const MITIGATED = replicaSet('orders-5d8f7c9b4', '4', [{ name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.001' }]);
const RESTORED = replicaSet('orders-7b6c8d9f5', '5', []);

describe('chaos comparator', () => {
  test('the controller is not done while the revision annotation names an earlier template, though observedGeneration is equal', () => {
    // What the failing run read: spec restored and observed, revision 4 = the mitigated template.
    assert.equal(
      controllerPending([deployment('4')], [MITIGATED]),
      'orders: revision 4 (orders-5d8f7c9b4) holds an earlier template',
    );
    // The restored template's ReplicaSet exists, but the Deployment's annotation has not followed yet.
    assert.match(controllerPending([deployment('4')], [MITIGATED, RESTORED]) ?? '', /holds an earlier template/);
    assert.equal(controllerPending([deployment('6')], [MITIGATED, RESTORED]), 'orders: no ReplicaSet of revision 6');
    assert.equal(controllerPending([deployment('5', 6)], [MITIGATED, RESTORED]), 'orders: generation 7 observed 6');
    // Done: observed, and the current ReplicaSet holds the spec's template (hash label aside).
    assert.equal(controllerPending([deployment('5')], [MITIGATED, RESTORED]), undefined);
  });

  test('a ReplicaSet of another Deployment with the same revision does not count', () => {
    const other = {
      ...RESTORED,
      metadata: { ...RESTORED.metadata, ownerReferences: [{ kind: 'Deployment', name: 'x' }] },
    };
    assert.equal(controllerPending([deployment('5')], [MITIGATED, other]), 'orders: no ReplicaSet of revision 5');
  });

  test('differences are named by path, with both values', () => {
    const lines: string[] = [];
    pathDiff(
      { deployments: [{ generation: 7, spec: { env: [{ name: 'A', value: '1' }] } }] },
      {
        deployments: [
          {
            generation: 8,
            spec: {
              env: [
                { name: 'A', value: '1' },
                { name: 'B', value: '2' },
              ],
            },
          },
        ],
      },
      'cluster',
      lines,
    );
    assert.deepEqual(lines, [
      '  cluster.deployments[0].generation: clean 7 | chaos 8',
      '  cluster.deployments[0].spec.env[1]: clean ∅ | chaos {"name":"B","value":"2"}',
    ]);
  });
});
