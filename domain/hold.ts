/**
 * One remediation per deployment: every incident that may change a deployment first claims its hold,
 * a small workflow per deployment (id `firebreak-hold-<namespace>/<deployment>`) that grants it to one
 * incident at a time, queues the others and tells each side about the other. Names are part of
 * running workflows' histories: never rename, add new ones instead.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { formatTarget } from '../common/ids';
import type { Target } from '../common/types';

/** The workflow type name the hold is started as (activities start it by name). */
export const HOLD_WORKFLOW_TYPE = 'deploymentHoldWorkflow';

export function holdWorkflowId(target: Target): string {
  return `firebreak-hold-${formatTarget(target)}`;
}

/** An incident asking for, holding or waiting for a deployment. */
export interface HoldClaim {
  workflowId: string;
  incidentId: string;
}

export interface HoldInput {
  target: Target;
  /** Carried across continue-as-new. */
  holder?: HoldClaim;
  waiting?: HoldClaim[];
}

/** What the hold tells an incident. */
export type HoldNotice =
  | { kind: 'granted'; target: Target }
  | { kind: 'waiting'; target: Target; holder: HoldClaim }
  | { kind: 'waited-on'; target: Target; waiter: HoldClaim };

export interface HoldView {
  target: Target;
  holder?: HoldClaim;
  waiting: HoldClaim[];
}

/** An incident's view of one of its deployment holds, kept in its record (status, card, postmortem). */
export interface IncidentHold {
  target: Target;
  state: 'claimed' | 'held' | 'waiting' | 'forced' | 'released';
  /** The incident holding the deployment while this one waits (or was forced past). */
  holder?: HoldClaim;
  /** Incidents that wait for this one to close. */
  waiters?: HoldClaim[];
  since: string;
}

/** At most this many incidents queue on one deployment; a further claim is told who holds it and retries later. */
export const MAX_HOLD_WAITERS = 50;

export const claimHoldSignal = defineSignal<[HoldClaim]>('claimHold');
/**
 * A claim answered at once when the hold is at rest: granted, or waiting behind the named holder;
 * null while the hold is passing between incidents (the answer then comes as a notice). The hold
 * also sends every answer as a notice, as for a signalled claim; the claimant already knows it.
 */
export const claimHoldUpdate = defineUpdate<HoldNotice | null, [HoldClaim]>('claim');
export const releaseHoldSignal = defineSignal<[{ workflowId: string }]>('releaseHold');
export const holdNoticeSignal = defineSignal<[HoldNotice]>('holdNotice');
export const holdQuery = defineQuery<HoldView>('hold');
