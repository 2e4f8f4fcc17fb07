/**
 * A workflow that grows a long incident-shaped history for the postmortem benchmark: batches of
 * short activities named like the runbooks' own, a timer per batch and an update-free signal loop,
 * until the history holds about `targetEvents` events.
 */
import { proxyActivities, sleep } from '@temporalio/workflow';

export interface BenchActivities {
  checkHealth(input: { url: string }): Promise<{ healthy: boolean; verdict: string }>;
  setDeploymentEnv(input: {
    namespace: string;
    deployment: string;
    incidentId: string;
    env: Record<string, string>;
  }): Promise<{ container: string; previous: Record<string, string | null>; applied: Record<string, string> }>;
}

const { checkHealth, setDeploymentEnv } = proxyActivities<BenchActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/** Each activity adds 3 events (scheduled, started, completed); each batch adds a few workflow-task and timer events. */
export async function historyBenchmarkWorkflow(input: { incidentId: string; targetEvents: number }): Promise<number> {
  const batch = 100;
  const batches = Math.max(1, Math.round(input.targetEvents / (batch * 3 + 8)));
  let calls = 0;
  for (let b = 0; b < batches; b++) {
    await Promise.all(
      Array.from({ length: batch }, (_, i) =>
        i % 2 === 0
          ? checkHealth({ url: `http://svc-${i}.shop.svc/healthz?token=bench-secret` })
          : setDeploymentEnv({
              namespace: 'shop',
              deployment: `svc-${i}`,
              incidentId: input.incidentId,
              env: { OTEL_TRACES_SAMPLER_ARG: '0.001', API_TOKEN: 'bench-secret' },
            }),
      ),
    );
    calls += batch;
    await sleep(1);
  }
  return calls;
}
