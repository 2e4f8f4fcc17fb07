/**
 * Avalanche mitigation's verification window on the real engine, control plane and Prometheus:
 * after the rollouts and the window, a service whose error rate and p99 are still above the
 * policy's limits escalates the incident (not mitigated); services back under them are mitigated.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { incidentWorkflowId } from '../../common/ids';
import { remoteWrite, sampleSeries } from '../bed/prometheus';
import { SKIP_WITHOUT_E2E_BED, worldForSuite } from './harness';

const SKIP = SKIP_WITHOUT_E2E_BED || (process.env.FIREBREAK_TEST_PROMETHEUS_URL ? false : 'needs the prometheus bed');

describe('avalanche verification window end to end', { skip: SKIP }, () => {
  const world = worldForSuite({ name: 'avverify', policy: { verifyWindow: '10s' } });

  /** The last two minutes of a service's errors counter and p99 gauge, up to now. */
  const writeMetrics = async (ns: string, service: string, errorsPerSecond: number, p99: number) => {
    const end = Date.now();
    const labels = { namespace: ns, service };
    await remoteWrite(world.bed.prometheusUrl!, [
      {
        labels: { __name__: 'otlp_errors_total', ...labels },
        samples: sampleSeries(end - 120_000, end, 5, (s) => 1_000 + errorsPerSecond * s),
      },
      {
        labels: { __name__: 'otlp_request_duration_seconds', quantile: '0.99', ...labels },
        samples: sampleSeries(end - 120_000, end, 5, () => p99),
      },
    ]);
  };

  const mitigate = async (services: string[]) => {
    const ns = world.namespace;
    await Promise.all(services.map((s) => world.cluster.deploy(ns, s, { replicas: 1 })));
    await world.cliOk(['run', 'avalanche', '--target', `${ns}/${services.join(',')}`, '--no-wait'], 'carol');
    const workflowId = incidentWorkflowId('avalanche-mitigation', { namespace: ns, deployment: services[0]! });
    await world.waitFor(workflowId, 'the verification window', (r) => r.currentStep === 'verify', 120_000);
    return workflowId;
  };

  test('orders still failing after the window: escalated, naming orders; payments recovered', async () => {
    const workflowId = await mitigate(['orders', 'payments']);
    await writeMetrics(world.namespace, 'orders', 40, 2.5);
    await writeMetrics(world.namespace, 'payments', 0, 0.1);
    const failed = await world.waitFor(
      workflowId,
      'escalated: not recovered',
      (r) => r.failure?.type === 'UNHEALTHY_AFTER_REMEDIATION' && r.escalationTier >= 1,
      60_000,
    );
    assert.equal(failed.mitigatedAt, undefined);
    assert.match(
      failed.outcome ?? '',
      /not recovered after the mitigations — orders: error rate [\d.]+\/s > 1\/s, p99 2\.50?s > 0\.5s$/,
    );
    assert.doesNotMatch(failed.outcome ?? '', /payments:/);
    assert.ok(failed.timeline.some((e) => /payments: recovered/.test(e.message)));
  });

  test('every service back under the limits after the window: mitigated', async () => {
    const workflowId = await mitigate(['carts']);
    await writeMetrics(world.namespace, 'carts', 0.2, 0.2);
    const mitigated = await world.waitFor(workflowId, 'mitigated', (r) => r.status === 'mitigated', 60_000);
    assert.equal(mitigated.failure, undefined);
    assert.ok(mitigated.timeline.some((e) => /carts: recovered \(error rate 0\.[\d]+\/s, p99 0\.2s\)/.test(e.message)));
  });
});
