/**
 * What the Slack handlers share: the Temporal client and policy, a Slack client for ephemeral
 * answers and user-group lookups, `response_url` delivery, incident links, and background work
 * that outlives the 3-second acknowledgement but never the app (closing the app waits for it,
 * boundedly).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { WebClient } from '@slack/web-api';
import type { Env } from '../../config/env';
import { lineLog, processLogger } from '../../config/logger';
import type { IncidentPolicy } from '../../common/incident';
import type { IngressMetrics } from '../metrics';

export interface SlackIngressContext {
  temporal: Client;
  taskQueue: string;
  namespace: string;
  policy: IncidentPolicy;
  /** Configured incident channel; the command's channel otherwise. */
  incidentChannel?: string;
  /** Null without SLACK_BOT_TOKEN: ephemeral answers then go through response_url. */
  slack: WebClient | null;
  groups: UserGroupResolver;
  metrics?: IngressMetrics;
  log: (message: string, extra?: Record<string, unknown>) => void;
  /** POSTs a message to a payload's response_url. */
  respond(responseUrl: string, message: Record<string, unknown>): Promise<void>;
  /** Link to the incident's workflow in the Temporal Web UI, when one is known. */
  link(workflowId: string): string | undefined;
  /** Runs Temporal calls with a deadline, so a click or command never waits forever on a missing worker. */
  bounded<R>(fn: () => Promise<R>): Promise<R>;
  /** Runs work after the HTTP answer; failures are logged, never thrown. */
  background(what: string, task: () => Promise<void>): void;
  /** Waits (at most `timeoutMs`) for background work, on shutdown and in tests. */
  drain(timeoutMs?: number): Promise<void>;
}

const RESPONSE_URL_TIMEOUT_MS = 5_000;
/** Long enough for a loaded server to accept an update; short enough that Slack's response_url (30 min) is alive. */
const TEMPORAL_DEADLINE_MS = 30_000;

/** Ingress calls to Slack must be quick and single: no client retries, no waiting out a 429. */
export function createIngressSlackClient(env: Env): WebClient | null {
  if (!env.SLACK_BOT_TOKEN) return null;
  return new WebClient(env.SLACK_BOT_TOKEN, {
    slackApiUrl: env.SLACK_API_URL,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 2_500,
  });
}

export function temporalUiBase(env: Env): string | undefined {
  if (env.FIREBREAK_TEMPORAL_UI_URL) return env.FIREBREAK_TEMPORAL_UI_URL.replace(/\/+$/, '');
  if (env.TEMPORAL_ADDRESS) return undefined;
  return `http://127.0.0.1:${env.FIREBREAK_TEMPORAL_PORT + 1000}`;
}

/** The incident's page in the Temporal Web UI, when a UI is known. */
export function incidentLink(env: Env, workflowId: string, uiBase = temporalUiBase(env)): string | undefined {
  if (!uiBase) return undefined;
  return `${uiBase}/namespaces/${encodeURIComponent(env.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}`;
}

export function createContext(options: {
  temporal: Client;
  env: Env;
  policy: IncidentPolicy;
  incidentChannel?: string;
  slack?: WebClient | null;
  metrics?: IngressMetrics;
  log?: (message: string, extra?: Record<string, unknown>) => void;
  fetch?: typeof fetch;
  groupCacheMs?: number;
}): SlackIngressContext {
  const { env } = options;
  const slack = options.slack === undefined ? createIngressSlackClient(env) : options.slack;
  const log = options.log ?? lineLog(processLogger(), 'slack', 'warn');
  const doFetch = options.fetch ?? fetch;
  const pending = new Set<Promise<void>>();
  const uiBase = temporalUiBase(env);
  return {
    temporal: options.temporal,
    taskQueue: env.FIREBREAK_TASK_QUEUE,
    namespace: env.TEMPORAL_NAMESPACE,
    policy: options.policy,
    incidentChannel: options.incidentChannel,
    slack,
    groups: new UserGroupResolver(slack, options.groupCacheMs, log),
    metrics: options.metrics,
    log,
    async respond(responseUrl, message) {
      const res = await doFetch(responseUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(message),
        signal: AbortSignal.timeout(RESPONSE_URL_TIMEOUT_MS),
      });
      await res.text().catch(() => '');
      // Slack answers 404 once the response_url has expired (30 min) or been used 5 times.
      if (!res.ok) throw new Error(`response_url answered ${res.status}`);
    },
    bounded(fn) {
      return options.temporal.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, fn);
    },
    link(workflowId) {
      return incidentLink(env, workflowId, uiBase);
    },
    background(what, task) {
      const run = task().catch((err: unknown) => log(`${what} failed: ${(err as Error)?.message ?? String(err)}`));
      pending.add(run);
      void run.finally(() => pending.delete(run));
    },
    async drain(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (pending.size > 0 && Date.now() < deadline) {
        const settled = new AbortController();
        await Promise.race([
          Promise.allSettled([...pending]),
          sleep(Math.max(1, deadline - Date.now()), undefined, { signal: settled.signal }),
        ]);
        settled.abort();
      }
    },
  };
}

/**
 * Which approver user groups a Slack user belongs to, from `usergroups.users.list`, cached
 * briefly per group so a burst of clicks costs one call. A failed lookup counts as "not a
 * member": authorization fails closed.
 */
export class UserGroupResolver {
  private readonly cache = new Map<string, { at: number; members: Promise<Set<string>> }>();

  constructor(
    private readonly slack: WebClient | null,
    private readonly ttlMs = 60_000,
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  async groupsOf(userId: string, groups: readonly string[]): Promise<string[]> {
    const found = await Promise.all(
      groups.map(async (group) => ((await this.members(group)).has(userId) ? group : '')),
    );
    return found.filter(Boolean);
  }

  private members(group: string): Promise<Set<string>> {
    const cached = this.cache.get(group);
    if (cached && Date.now() - cached.at < this.ttlMs) return cached.members;
    const members = this.lookup(group);
    this.cache.set(group, { at: Date.now(), members });
    return members;
  }

  private async lookup(group: string): Promise<Set<string>> {
    if (!this.slack) return new Set();
    try {
      const result = await this.slack.usergroups.users.list({ usergroup: group });
      return new Set(result.users ?? []);
    } catch (err) {
      // Do not keep a failure for the whole TTL: the next click asks again.
      this.cache.delete(group);
      this.log(`usergroups.users.list ${group} failed: ${(err as Error).message}`);
      return new Set();
    }
  }
}
