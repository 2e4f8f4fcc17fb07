/**
 * The Slack button contract, shared by the activity that posts buttons and the ingress that
 * receives their clicks (ingress/slack/interactions.ts): what a button's `value` carries, and action
 * ids that become Temporal update ids, so a double click is one decision.
 */
import { fnv1a64 } from '../../common/ids';
import type { GateState } from '../../common/types';
import { SLACK_LIMITS, mrkdwn, plain, safeText, type SlackBlock } from './mrkdwn';

/** Choices beyond this many are offered in a static_select instead of one button each. */
const MAX_CHOICE_BUTTONS = 4;

/** What a Firebreak button carries in its `value` (JSON, ≤ 2000 characters). */
export interface ActionValue {
  /** Workflow id of the incident. */
  w: string;
  /** Incident id: guards against a workflow id reused by a later incident. */
  i: string;
  kind: 'decide' | 'ack';
  g?: string;
  d?: 'approve' | 'reject';
  c?: string;
}

export const ACTION_ID_PREFIX = 'fb:';

/**
 * Unique per gate request and decision (and choice), stable across the card and the thread
 * message: it becomes the Temporal update id, so a double click — or the same button clicked on
 * the card and in the thread — is one decision.
 */
export function gateActionId(
  workflowId: string,
  incidentId: string,
  gate: Pick<GateState, 'name' | 'requestedAt'>,
  decision: 'approve' | 'reject' | 'choose',
  index?: number,
): string {
  const key = fnv1a64(`${workflowId}\u0000${incidentId}\u0000${gate.name}\u0000${gate.requestedAt}`);
  return `${ACTION_ID_PREFIX}${key}:${gate.name}:${decision}${index === undefined ? '' : `:${index}`}`.slice(0, 255);
}

export function ackActionId(workflowId: string, incidentId: string): string {
  return `${ACTION_ID_PREFIX}${fnv1a64(`${workflowId}\u0000${incidentId}`)}:ack`;
}

export function encodeActionValue(value: ActionValue): string {
  const text = JSON.stringify(value);
  if (text.length <= SLACK_LIMITS.buttonValue) return text;
  // Only a pathological choice can get here; without the choice the click still identifies the gate.
  return JSON.stringify({ ...value, c: undefined });
}

export interface IncidentKey {
  workflowId: string;
  incidentId: string;
}

function confirmDialog(title: string, text: string, confirm: string): Record<string, unknown> {
  return {
    title: plain(title, 100),
    text: mrkdwn(text, SLACK_LIMITS.confirmText),
    confirm: plain(confirm, 30),
    deny: plain('Cancel', 30),
  };
}

/** Approve/Reject buttons (with confirm dialogs), one Approve per choice, or a select for many choices. */
export function gateActions(key: IncidentKey, gate: GateState): SlackBlock {
  const prompt = safeText(gate.prompt, 200);
  const base = { w: key.workflowId, i: key.incidentId, kind: 'decide' as const, g: gate.name };
  const elements: Record<string, unknown>[] = [];
  const choices = gate.choices ?? [];
  if (choices.length === 0) {
    elements.push({
      type: 'button',
      action_id: gateActionId(key.workflowId, key.incidentId, gate, 'approve'),
      text: plain('Approve', SLACK_LIMITS.buttonText),
      style: 'primary',
      value: encodeActionValue({ ...base, d: 'approve' }),
      confirm: confirmDialog(`Approve ${gate.name}?`, prompt, 'Approve'),
    });
  } else if (choices.length <= MAX_CHOICE_BUTTONS) {
    choices.forEach((choice, index) =>
      elements.push({
        type: 'button',
        action_id: gateActionId(key.workflowId, key.incidentId, gate, 'approve', index),
        text: plain(`Approve ${choice}`, SLACK_LIMITS.buttonText),
        style: 'primary',
        value: encodeActionValue({ ...base, d: 'approve', c: choice }),
        confirm: confirmDialog(`Approve ${gate.name}?`, `${prompt}\nChoice: *${safeText(choice, 80)}*`, 'Approve'),
      }),
    );
  } else {
    elements.push({
      type: 'static_select',
      action_id: gateActionId(key.workflowId, key.incidentId, gate, 'choose'),
      placeholder: plain('Approve with…', SLACK_LIMITS.optionText),
      options: choices.slice(0, SLACK_LIMITS.selectOptions).map((choice, index) => ({
        text: plain(choice, SLACK_LIMITS.optionText),
        // Option values are capped at 150 characters; the ingress maps the index back through the gate.
        value: String(index),
      })),
      confirm: confirmDialog(`Approve ${gate.name}?`, `${prompt}\nThe option you picked is approved.`, 'Approve'),
    });
  }
  elements.push({
    type: 'button',
    action_id: gateActionId(key.workflowId, key.incidentId, gate, 'reject'),
    text: plain('Reject', SLACK_LIMITS.buttonText),
    style: 'danger',
    value: encodeActionValue({ ...base, d: 'reject' }),
    confirm: confirmDialog(`Reject ${gate.name}?`, `${prompt}\nRejecting stops this step of the runbook.`, 'Reject'),
  });
  return { type: 'actions', block_id: `gate:${gate.name}`.slice(0, 255), elements };
}
