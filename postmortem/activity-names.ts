/**
 * The activities whose inputs and results the postmortem reads meaning from, by the role they
 * play. Typed against the activity interfaces: renaming an activity fails the build here.
 */
import type { ActivityName } from '../activities';
import type { MitigationKind } from '../domain/mitigations';

export const ACTIVITY = {
  /** Its input is a snapshot of the incident record. */
  card: 'publishIncidentCard',
  /** Its input is a timeline entry the workflow posted. */
  threadEntry: 'postTimelineEntry',
  approvalRequest: 'postApprovalRequest',
  approvalClosed: 'closeApprovalRequest',
  /** Escalation to a Slack tier. */
  slackEscalation: 'postEscalation',
  /** Escalation to PagerDuty. */
  page: 'triggerPage',
  /** Escalation to an email tier. */
  emailPage: 'sendPageEmail',
  /** An evidence artefact posted to the thread; its input holds the artefact. */
  evidenceShared: 'shareEvidence',
} as const satisfies Record<string, ActivityName>;

/** Activities whose result is an EvidenceRef (an artefact in the evidence store). */
export const EVIDENCE_CAPTURES: ReadonlySet<string> = new Set<ActivityName>([
  'captureHeapProfile',
  'capturePreviousLogs',
]);

/** Remediations that report the values they replaced, with the mitigation kind their result describes. */
export const MITIGATION_ACTIVITIES = {
  setDeploymentEnv: 'env',
  scaleDeployment: 'replicas',
  setContainerResources: 'resources',
} as const satisfies Partial<Record<ActivityName, MitigationKind>>;

/** Activities that change the cluster (unless run as a dry run). */
export const CLUSTER_CHANGES: ReadonlySet<string> = new Set<ActivityName>([
  'rolloutRestart',
  'rolloutUndo',
  'setDeploymentEnv',
  'scaleDeployment',
  'setContainerResources',
]);

export function mitigationKindOf(name: string): MitigationKind | undefined {
  return Object.hasOwn(MITIGATION_ACTIVITIES, name)
    ? MITIGATION_ACTIVITIES[name as keyof typeof MITIGATION_ACTIVITIES]
    : undefined;
}
