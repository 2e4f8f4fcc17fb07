/** What the Kubernetes activities take and return: plain JSON, so it travels in Temporal payloads. */
export type {
  ContainerSettings,
  DeploymentSettings,
  EnvChangeResult,
  ResourceChangeResult,
  ScaleResult,
} from '../../domain/mitigations';

export interface ContainerSummary {
  name: string;
  ready: boolean;
  restartCount: number;
  lastTermination?: { reason?: string; exitCode?: number; finishedAt?: string };
}
export interface PodSummary {
  name: string;
  phase: string;
  ready: boolean;
  restarts: number;
  nodeName?: string;
  containers: ContainerSummary[];
}
export interface EventSummary {
  type: string;
  reason: string;
  message: string;
  object: string;
  count: number;
  lastTimestamp: string;
}
export interface OomKill {
  pod?: string;
  container?: string;
  node?: string;
  at?: string;
  exitCode?: number;
  source: 'containerStatus' | 'nodeEvent';
  message?: string;
}
export interface RevisionInfo {
  revision: number;
  replicaSet: string;
  changeCause?: string;
  images: string[];
  createdAt?: string;
}
export interface MutationOptions {
  /** Idempotency marker: the same incident never applies the same change twice. */
  incidentId: string;
  dryRun?: boolean;
}
export interface RolloutRestartResult {
  restartedAt: string;
  /** The pod template's restartedAt before this restart (absent: never restarted this way). */
  previousRestartedAt?: string;
  /** True when this incident had already restarted the deployment (a retry after a crash). */
  alreadyApplied: boolean;
  generation: number;
}
export interface RolloutUndoResult {
  fromRevision: number;
  toRevision: number;
  alreadyApplied: boolean;
  /** Set when nothing was patched because the template already matched the revision (kubectl's "skipped rollback"). */
  skipped?: string;
}
export interface RolloutStatus {
  complete: boolean;
  message: string;
  updatedReplicas: number;
  availableReplicas: number;
  replicas: number;
}
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  truncated: boolean;
}
