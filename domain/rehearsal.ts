/**
 * Rehearsal (`--dry-run`): the one place a would-be change is worded, so the timeline, the card
 * and the postmortem say the same thing, in the words a real change uses (describeChange for the
 * settings in the mitigation ledger). Pure: the workflow sandbox, the postmortem and Slack use it.
 */
import { formatTarget } from '../common/ids';
import type { Target } from '../common/types';
import { describeChange, envChanges, replicaChanges, resourceChanges, type MitigationChange } from './mitigations';

export const REHEARSAL_LABEL = 'REHEARSAL';

/** What every reader of a rehearsal is told first: the card, the CLI, the postmortem. */
export const REHEARSAL_BANNER =
  'REHEARSAL (dry run): every change is a server-side dry run — nothing in the cluster changed, ' +
  'nothing was recorded for restoring, nobody was paged';

/** A rehearsal keeps this many would-be changes in its record; the rest are counted (and on the timeline). */
export const MAX_WOULD_BE_CHANGES = 40;

/** The Kubernetes changes a runbook makes; in a rehearsal each is sent as a server-side dry run. */
export const CHANGE_ACTIVITIES = [
  'rolloutRestart',
  'rolloutUndo',
  'scaleDeployment',
  'setDeploymentEnv',
  'setContainerResources',
] as const;
export type ChangeActivity = (typeof CHANGE_ACTIVITIES)[number];

export function isChangeActivity(name: string): name is ChangeActivity {
  return (CHANGE_ACTIVITIES as readonly string[]).includes(name);
}

/** `REHEARSAL — P0 response: shop/checkout`: the title every surface shows. */
export function rehearsalTitle(title: string): string {
  return `${REHEARSAL_LABEL} — ${title}`;
}

/** "would change shop/checkout: replicas 1 → 3". */
export function wouldChangeText(target: Target, what: string): string {
  return `would change ${formatTarget(target)}: ${what}`;
}

/**
 * What a dry-run change reported, one line per setting, as "A → B". Read defensively: the
 * postmortem feeds it results from histories (redacted, possibly older builds).
 */
export function wouldBeChanges(name: ChangeActivity, result: unknown): string[] {
  const value = (result ?? {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : 'unset');
  switch (name) {
    case 'rolloutRestart':
      return [
        `rollout restart: pod template kubectl.kubernetes.io/restartedAt ${text(value.previousRestartedAt)} → ${text(value.restartedAt)} (every pod replaced)`,
      ];
    case 'rolloutUndo':
      return typeof value.skipped === 'string'
        ? [`rollout undo: nothing to change (${value.skipped})`]
        : [
            `rollout undo: revision ${text(value.fromRevision)} → ${text(value.toRevision)} (pod template of revision ${text(value.toRevision)})`,
          ];
    case 'scaleDeployment':
      if (typeof value.previousReplicas !== 'number') return [];
      return settings(replicaChanges({ previousReplicas: value.previousReplicas, replicas: Number(value.replicas) }));
    case 'setDeploymentEnv':
      return settings(
        envChanges({
          container: String(value.container ?? '?'),
          previous: asValues(value.previous),
          applied: asValues(value.applied),
        }),
      );
    case 'setContainerResources': {
      const field = (v: unknown, name: 'limits' | 'requests') => asValues((v as Record<string, unknown>)?.[name]);
      return settings(
        resourceChanges({
          container: String(value.container ?? '?'),
          previous: { limits: field(value.previous, 'limits'), requests: field(value.previous, 'requests') },
          applied: { limits: field(value.applied, 'limits'), requests: field(value.applied, 'requests') },
        }),
      );
    }
  }
}

function settings(changes: MitigationChange[]): string[] {
  return changes.map((change) =>
    change.previous === change.applied ? `${describeChange(change)} (already so: no change)` : describeChange(change),
  );
}

function asValues(value: unknown): Record<string, string | null> {
  if (!value || typeof value !== 'object') return {};
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, typeof v === 'string' || typeof v === 'number' ? String(v) : null]),
  );
}
