/**
 * Who may do what: the permissions and identity map from the config file, as plain data. The
 * starter (ingress, CLI) checks `start`; the rest travels in the incident policy so the kernel
 * decides gates, acknowledgements and resolutions deterministically, and a config change never
 * alters an incident already running.
 *
 * A subject is one of: a Slack user id (`U…`/`W…`), a Slack user group (`S…`, its members), a CLI
 * identity (`cli:<name>`), a person of the identity map (`alice`: every account of theirs), an
 * alert route (`route:<name>`), or `*` (anyone).
 */

/** One person's accounts: four-eyes and quorum count people, not accounts. */
export interface PersonIdentity {
  slack?: string;
  cli?: string;
  email?: string;
}

export interface StartRule {
  /** Runbook ids; absent = every runbook. */
  runbooks?: string[];
  /** Namespace patterns (`*` wildcards, e.g. `prod-*`); absent = every namespace. */
  namespaces?: string[];
  who: string[];
}

export interface ApproveRule {
  /** Gate names; absent = every gate. */
  gates?: string[];
  runbooks?: string[];
  namespaces?: string[];
  who: string[];
  /** Distinct people needed to approve (N of the `who` group); 1 by default. */
  quorum?: number;
}

export interface AccessPolicy {
  people: Record<string, PersonIdentity>;
  /** Absent = anyone may start any runbook (the open default, warned about at start-up). */
  start?: StartRule[];
  /** First matching rule decides who may decide a gate; no match = the legacy `approvers`. */
  approve?: ApproveRule[];
  acknowledge?: string[];
  resolve?: string[];
  cancel?: string[];
  /**
   * CLI identities must be proven by the Temporal connection (mTLS certificate subject, API key);
   * a self-declared CLI identity may then not decide a four-eyes or quorum gate.
   */
  requireProvenCliIdentity: boolean;
}

export const OPEN_ACCESS: AccessPolicy = { people: {}, requireProvenCliIdentity: false };

export type AccessAction = 'start' | 'approve' | 'acknowledge' | 'resolve' | 'cancel';
export const ACCESS_ACTIONS: readonly AccessAction[] = ['start', 'approve', 'acknowledge', 'resolve', 'cancel'];
