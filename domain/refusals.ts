/**
 * Counting refusals in `/metrics` whatever channel they came through. The ingress counts what it
 * refuses itself (Slack, alert routes): it serves `/metrics`. The CLI has no endpoint of its own, so
 * its refusals travel to the worker as a `refused` signal — to the incident they concern, or, with no
 * incident (a refused start), to the refusal log, a small workflow that keeps the last few — and the
 * workflow counts them through the `access` sink, which the worker of `firebreak start` wires to the
 * same counter its ingress serves. A notice the sender already counted says so (`counted`), so nothing
 * is counted twice. Sandbox-safe: imported by workflows, worker, CLI and ingress.
 */
import { defineQuery, type Sinks } from '@temporalio/workflow';
import { ACCESS_ACTIONS, type AccessAction } from '../common/access';
import type { Actor } from '../common/types';
import type { RefusalNotice } from './messages';

export const REFUSAL_CHANNELS = ['slack', 'cli', 'alert', 'other'] as const;
export type RefusalChannel = (typeof REFUSAL_CHANNELS)[number];

/** Label values of `firebreak_access_refusals_total`: a fixed set, whatever a sender writes. */
export interface RefusalLabels {
  action: AccessAction | 'other';
  channel: RefusalChannel;
}

/** The worker end of the workflows' `access` sink (worker/sinks.ts). */
export interface FirebreakSinks extends Sinks {
  access: {
    /** A refusal a workflow saw that no one has counted yet. */
    refused(labels: RefusalLabels): void;
  };
}

/** Which channel an actor speaks through, from its id, for notices that do not say. */
function channelOfActor(actor: Actor | undefined): RefusalChannel {
  const id = String(actor?.id ?? '');
  if (id.startsWith('cli:')) return 'cli';
  if (id.startsWith('route:')) return 'alert';
  if (/^[UW][A-Z0-9]{2,}$/.test(id)) return 'slack';
  return 'other';
}

/** The bounded labels of a notice: unknown actions and channels become `other`. */
export function refusalLabels(notice: Pick<RefusalNotice, 'action' | 'actor' | 'channel'>): RefusalLabels {
  const action = (ACCESS_ACTIONS as readonly string[]).includes(notice.action)
    ? (notice.action as AccessAction)
    : 'other';
  const channel = (REFUSAL_CHANNELS as readonly string[]).includes(String(notice.channel))
    ? (notice.channel as RefusalChannel)
    : channelOfActor(notice.actor);
  return { action, channel };
}

/**
 * The refusal log's workflow id: one per task queue — one per Firebreak installation, so its
 * refusals are counted by that installation's workers — started by the first refusal that needs it.
 */
export function refusalLogWorkflowId(taskQueue: string): string {
  return `firebreak:access-refusals:${taskQueue}`;
}
/** The refusal log's workflow type (its function name in workflows/refusals.ts). */
export const REFUSAL_LOG_WORKFLOW_TYPE = 'accessRefusalsWorkflow';

/** A refusal as the log keeps it: bounded fields, with when it arrived. */
export interface LoggedRefusal {
  at: string;
  actor: Actor;
  action: string;
  channel: RefusalChannel;
  reason: string;
}

/** The refusals the log keeps, oldest first. */
export const recentRefusalsQuery = defineQuery<LoggedRefusal[]>('recentRefusals');

const MAX_ID_CHARS = 100;
const MAX_ACTION_CHARS = 40;
export const MAX_REFUSAL_REASON_CHARS = 300;

/** A notice cut down to what may be kept: whatever a sender sends, a bounded record. */
export function boundedRefusal(notice: RefusalNotice, at: string): LoggedRefusal {
  const actor: Actor = { id: String(notice.actor?.id).slice(0, MAX_ID_CHARS) };
  if (notice.actor?.name) actor.name = String(notice.actor.name).slice(0, MAX_ID_CHARS);
  return {
    at,
    actor,
    action: String(notice.action).slice(0, MAX_ACTION_CHARS),
    channel: refusalLabels(notice).channel,
    reason: String(notice.reason).slice(0, MAX_REFUSAL_REASON_CHARS),
  };
}
