/**
 * The Slack ingress alone in a process of its own, so a test can kill it with SIGKILL between an
 * acknowledgement and what follows: the ingress thread `firebreak start` runs (ingress/thread.ts:
 * the real app and route modules on their own Temporal client), configured by environment
 * variables as `firebreak start` is (TEMPORAL_ADDRESS, SLACK_SIGNING_SECRET, SLACK_API_URL,
 * FIREBREAK_TASK_QUEUE, FIREBREAK_DATA_DIR), with no worker. Prints `listening <port>` on stdout
 * once it serves.
 *
 *   node --import tsx test/bed/slack-ingress-process.ts
 */
import { parseEnv } from '../../config/env';
import { IngressMetrics } from '../../ingress/metrics';
import { plainEnvironment, startIngressThread } from '../../ingress/thread';

async function main(): Promise<void> {
  const env = parseEnv(process.env);
  const address = env.TEMPORAL_ADDRESS ?? `127.0.0.1:${env.FIREBREAK_TEMPORAL_PORT}`;
  const ingress = await startIngressThread({
    data: { source: plainEnvironment(process.env), address, host: '127.0.0.1', port: 0, version: 'test' },
    health: async () => ({
      ok: true,
      temporal: { ok: true, address, namespace: env.TEMPORAL_NAMESPACE },
      worker: { ok: true, state: 'NONE', taskQueue: env.FIREBREAK_TASK_QUEUE },
    }),
    metrics: new IngressMetrics(),
    warn: (line) => console.error(line),
  });
  process.stdout.write(`listening ${ingress.port}\n`);
  const stop = () => void ingress.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
