/**
 * The Slack ingress alone in a process of its own, so a test can kill it with SIGKILL between an
 * acknowledgement and what follows: the real app and Slack routes on a real Temporal client,
 * configured by environment variables as `firebreak start` is (TEMPORAL_ADDRESS,
 * SLACK_SIGNING_SECRET, SLACK_API_URL, FIREBREAK_TASK_QUEUE, FIREBREAK_DATA_DIR). Prints
 * `listening <port>` on stdout once it serves.
 *
 *   node --import tsx test/bed/slack-ingress-process.ts
 */
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { parseEnv } from '../../config/env';
import { EMPTY_FILE_CONFIG } from '../../config/file';
import { DEFAULT_POLICY } from '../../common/incident';
import { buildApp } from '../../ingress/app';
import { createSlackRoutes } from '../../ingress/slack/routes';

async function main(): Promise<void> {
  const env = parseEnv(process.env);
  const address = env.TEMPORAL_ADDRESS ?? `127.0.0.1:${env.FIREBREAK_TEMPORAL_PORT}`;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
  const app = await buildApp({
    client,
    env,
    config: EMPTY_FILE_CONFIG,
    policy: { ...DEFAULT_POLICY, approvers: { users: [], groups: [] } },
    health: async () => ({
      ok: true,
      temporal: { ok: true, address, namespace: env.TEMPORAL_NAMESPACE },
      worker: { ok: true, state: 'NONE', taskQueue: env.FIREBREAK_TASK_QUEUE },
    }),
    routes: [createSlackRoutes()],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(`listening ${(app.server.address() as AddressInfo).port}\n`);
  const stop = () => void app.close().then(() => connection.close().then(() => process.exit(0)));
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
