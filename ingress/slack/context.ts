/**
 * What the Slack handlers share: the Temporal client and policy, a Slack client for ephemeral
 * answers and user-group lookups, `response_url` delivery, incident links, and background work
 * that outlives the 3-second acknowledgement but never the app (closing the app waits for it,
 * boundedly).
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { AccessAction } from '../../common/access';
import type { Actor } from '../../common/types';
import { referencedGroups } from '../../domain/access';
import { refusedSignal } from '../../domain/messages';
import type { WebClient } from '@slack/web-api';
import type { Env } from '../../config/env';
import { lineLog, processLogger } from '../../config/logger';
import type { IncidentPolicy } from '../../common/incident';
import { createQuickSlackClient, UserGroupResolver } from '../../client/slack-groups';
import type { IngressMetrics } from '../metrics';
import { PendingCommandJournal } from './pending';
import { postJson } from './response-url';

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
  /** `/runbook` commands acknowledged as starting whose outcome is not reported yet (pending.ts). */
  pending: PendingCommandJournal;
  /** A Slack user as an actor, with the user groups the policy names that they belong to. */
  actorFor(user: { id: string; name?: string }): Promise<Actor>;
  /**
   * Counts a refused action in /metrics and, when it concerns an open incident, records it on the
   * incident's timeline (best effort: the person has their answer either way).
   */
  refused(action: AccessAction, actor: Actor, reason: string, incident?: WorkflowHandle): Promise<void>;
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
  groupCacheMs?: number;
  pendingDir?: string;
}): SlackIngressContext {
  const { env } = options;
  const slack = options.slack === undefined ? createQuickSlackClient(env) : options.slack;
  const log = options.log ?? lineLog(processLogger(), 'slack', 'warn');
  const pending = new Set<Promise<void>>();
  const uiBase = temporalUiBase(env);
  const groups = new UserGroupResolver(slack, options.groupCacheMs, log);
  const namedGroups = referencedGroups(options.policy.access, options.policy.approvers.groups);
  return {
    temporal: options.temporal,
    taskQueue: env.FIREBREAK_TASK_QUEUE,
    namespace: env.TEMPORAL_NAMESPACE,
    policy: options.policy,
    incidentChannel: options.incidentChannel,
    slack,
    groups,
    pending: new PendingCommandJournal(
      options.pendingDir ?? path.resolve(env.FIREBREAK_DATA_DIR, 'slack-commands'),
      log,
    ),
    async actorFor(user) {
      const memberOf = namedGroups.length ? await groups.groupsOf(user.id, namedGroups) : [];
      return {
        id: user.id,
        ...(user.name ? { name: user.name } : {}),
        ...(memberOf.length ? { groups: memberOf } : {}),
      };
    },
    async refused(action, actor, reason, incident) {
      options.metrics?.accessRefusals.inc({ action, channel: 'slack' });
      if (!incident) return;
      // Counted above, so the incident records it without counting it again.
      const notice = { actor, action, reason, channel: 'slack', counted: true };
      await incident.signal(refusedSignal, notice).catch((err: unknown) => {
        log(`recording the refusal on ${incident.workflowId} failed: ${(err as Error).message}`);
      });
    },
    metrics: options.metrics,
    log,
    async respond(responseUrl, message) {
      const status = await postJson(responseUrl, JSON.stringify(message), RESPONSE_URL_TIMEOUT_MS);
      // Slack answers 404 once the response_url has expired (30 min) or been used 5 times.
      if (status < 200 || status > 299) throw new Error(`response_url answered ${status}`);
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
