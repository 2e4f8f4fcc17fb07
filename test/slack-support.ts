/**
 * The set-up the in-process Slack tests share: the loopback Slack stand-in, a Temporal client, a
 * test worker running the real Slack activities (posting to the stand-in) beside FakeWorld's typed
 * fakes, and the real ingress with the Slack routes and a health check that always reports healthy.
 */
import { WebClient } from '@slack/web-api';
import { WorkflowNotFoundError, type Client, type Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { createSlackActivities } from '../activities/slack';
import type { IncidentPolicy } from '../common/incident';
import { parseEnv } from '../config/env';
import { EMPTY_FILE_CONFIG, type FileConfig } from '../config/file';
import { buildApp } from '../ingress/app';
import type { IngressMetrics } from '../ingress/metrics';
import { createSlackRoutes, type SlackRouteOptions } from '../ingress/slack/routes';
import { SlackStandIn } from './bed/slack-standin';
import { connectTestClient, runTestWorker, type TestWorker } from './bed/worker';
import { FakeWorld } from './workflows/fakes';

/**
 * A test worker whose Slack activities post as `token` to the stand-in (no retries; a 429 is an
 * error unless `rejectRateLimitedCalls` is false), the rest FakeWorld's (a new one by default).
 * The other options are runTestWorker's.
 */
export function runSlackWorker(
  options: {
    stand: SlackStandIn;
    token: string;
    channel: string;
    world?: FakeWorld;
    rejectRateLimitedCalls?: boolean;
  } & Omit<Parameters<typeof runTestWorker>[0], 'activities'>,
): Promise<TestWorker> {
  const { stand, token, channel, world = new FakeWorld(), rejectRateLimitedCalls = true, ...worker } = options;
  const web = new WebClient(token, { slackApiUrl: stand.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls });
  return runTestWorker({
    ...worker,
    activities: {
      ...world.activities(),
      ...createSlackActivities({ client: web, defaultChannel: channel, log: () => undefined }),
    },
  });
}

/** What startSlackBed started: the stand-in, a Temporal client, and the worker (runSlackWorker). */
export interface SlackBed {
  stand: SlackStandIn;
  client: Client;
  connection: Connection;
  worker: TestWorker;
  /** The bot token the stand-in accepts and the worker and app use. */
  token: string;
}

/**
 * Starts the stand-in (accepting `token` and `moreTokens`), connects a client to the test Temporal,
 * and starts runSlackWorker with the other options. A failure part way stops what had started.
 */
export async function startSlackBed(
  options: { moreTokens?: string[] } & Omit<Parameters<typeof runSlackWorker>[0], 'stand'>,
): Promise<SlackBed> {
  const { moreTokens = [], ...worker } = options;
  const parts: Partial<SlackBed> = { token: options.token };
  try {
    parts.stand = new SlackStandIn({ tokens: [options.token, ...moreTokens] });
    await parts.stand.start();
    ({ client: parts.client, connection: parts.connection } = await connectTestClient());
    parts.worker = await runSlackWorker({ ...worker, stand: parts.stand });
    return parts as SlackBed;
  } catch (err) {
    await stopSlackBed(parts);
    throw err;
  }
}

/** The app (if any), the worker, the client's connection and the stand-in, stopped in that order. */
export async function stopSlackBed(parts: {
  app?: FastifyInstance | undefined;
  worker?: TestWorker | undefined;
  connection?: Connection | undefined;
  stand?: SlackStandIn | undefined;
}): Promise<void> {
  await parts.app?.close();
  await parts.worker?.stop();
  await parts.connection?.close();
  await parts.stand?.stop();
}

/**
 * The real ingress app with the Slack routes (silent log; `routes` adds to their options), talking
 * to the bed's stand-in with its token and starting incidents on its worker's task queue, with
 * `env` (the signing secret or app token, say) added as parseEnv reads it; on the bed's client
 * unless `client` is given. Its health check reports Temporal and the worker healthy.
 */
export function buildSlackApp(
  bed: Pick<SlackBed, 'stand' | 'client' | 'worker' | 'token'>,
  options: {
    env: Record<string, string>;
    policy: IncidentPolicy;
    config?: FileConfig;
    metrics?: IngressMetrics;
    routes?: SlackRouteOptions;
    client?: Client;
  },
): Promise<FastifyInstance> {
  const client = options.client ?? bed.client;
  const taskQueue = bed.worker.taskQueue;
  return buildApp({
    client,
    env: parseEnv({
      SLACK_BOT_TOKEN: bed.token,
      SLACK_API_URL: bed.stand.apiUrl,
      FIREBREAK_TASK_QUEUE: taskQueue,
      ...options.env,
    }),
    config: options.config ?? EMPTY_FILE_CONFIG,
    policy: options.policy,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    health: async () => ({
      ok: true,
      temporal: { ok: true, address: 'test', namespace: client.options.namespace },
      worker: { ok: true, state: 'RUNNING', taskQueue },
    }),
    routes: [createSlackRoutes({ log: () => undefined, ...options.routes })],
  });
}

/** Whether Temporal knows a workflow with this id (a refused command must start none). */
export async function workflowExists(client: Client, workflowId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
