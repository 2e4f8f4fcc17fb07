/**
 * Slack activities: one incident card per incident (kept current with chat.update), the timeline
 * in its thread, approval requests with buttons, escalation mentions.
 * CONTRACT SKELETON — signatures are fixed (fields may be added); bodies are implemented in the
 * Slack issue. Without a Slack client (not configured), every call writes to the log instead.
 */
import type { WebClient } from '@slack/web-api';
import type { GateState, IncidentRecord, TimelineEntry } from '../common/types';

export interface SlackMessageRef {
  channel: string;
  ts: string;
}

export interface SlackActivityDeps {
  /** Null when Slack is not configured: messages go to the log. */
  client: WebClient | null;
  /** Default channel for incident cards. */
  defaultChannel?: string;
  log?: (line: string) => void;
}

export function createSlackActivities(_deps: SlackActivityDeps) {
  const todo = (): never => {
    throw new Error('Slack activities are not implemented yet');
  };
  return {
    /** Posts the incident card, or updates it in place when `ref` is given. */
    async publishIncidentCard(_input: { incident: IncidentRecord; ref?: SlackMessageRef }): Promise<SlackMessageRef> {
      return todo();
    },
    /** Posts a timeline entry as a reply in the card's thread. */
    async postTimelineEntry(_input: {
      incidentId: string;
      ref?: SlackMessageRef;
      entry: TimelineEntry;
    }): Promise<SlackMessageRef | undefined> {
      return todo();
    },
    /** Posts an approval request with Approve/Reject buttons (and choices) in the card's thread. */
    async postApprovalRequest(_input: {
      incidentId: string;
      ref?: SlackMessageRef;
      gate: GateState;
    }): Promise<SlackMessageRef | undefined> {
      return todo();
    },
    /** Replaces an approval request's buttons with its outcome ("Approved by @x at …"). */
    async closeApprovalRequest(_input: {
      incidentId: string;
      request?: SlackMessageRef;
      gate: GateState;
    }): Promise<void> {
      return todo();
    },
    /** Mentions the people of an escalation tier in the card's thread (and the channel). */
    async postEscalation(_input: {
      incidentId: string;
      ref?: SlackMessageRef;
      tier: string;
      mentions: string[];
      text: string;
    }): Promise<void> {
      return todo();
    },
  };
}

export type SlackActivities = ReturnType<typeof createSlackActivities>;
