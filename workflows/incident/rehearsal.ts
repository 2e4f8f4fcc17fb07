/**
 * Rehearsal (`--dry-run`): the runbook runs against the real cluster, but every change it makes
 * goes to the API server as a server-side dry run (kubectl's `--dry-run=server`) and is recorded
 * as a would-be change instead of a mitigation. Nothing enters the ledger (so nothing is restored),
 * no tier is paged, no deployment hold is claimed (a rehearsal never holds a deployment against a
 * real incident; it says whether a real run would wait), and waits that only make sense after a
 * real change (rollouts, verification windows) are skipped and say so. Gates are asked as in a real
 * run, unless the rehearsal was started with `--yes`. It closes by itself when its steps end.
 */
import { isCancellation } from '@temporalio/workflow';
import { formatTarget } from '../../common/ids';
import type { GateState, Target } from '../../common/types';
import { MAX_WOULD_BE_CHANGES, wouldBeChanges, wouldChangeText, type ChangeActivity } from '../../domain/rehearsal';
import type { MutationOptions } from '../../activities/kubernetes';
import type { GateSpec } from './approvals';
import { failureMessage } from './failures';
import { holdCalls, kubeChange, type KubernetesChanges } from './proxies';
import { now, type IncidentState } from './state';

/** Who decides a gate skipped with `--yes`: nobody, and the record says so. */
const SKIPPED_BY = { id: 'rehearsal', name: 'rehearsal --yes' };

export class Rehearsal {
  /** The runbook's changes: the real activities, or (rehearsing) the same requests as dry runs. */
  readonly changes: KubernetesChanges;

  constructor(private readonly state: IncidentState<unknown>) {
    // A real run calls the proxies themselves: not one command differs from before rehearsals existed.
    this.changes = this.enabled ? this.dryRunChanges() : kubeChange;
  }

  get enabled(): boolean {
    return this.state.input.rehearsal !== undefined;
  }

  /** Notes, in a rehearsal, that a step depending on a real change is skipped; true when it is. */
  skips(what: string): boolean {
    if (!this.enabled) return false;
    this.state.note('step', `Skipped ${what}: nothing was changed, so there is nothing to wait for or judge`, {
      skipped: what,
    });
    return true;
  }

  /** `--yes`: the gate counts as approved (its first choice), recorded as skipped rather than decided. */
  skipGate(spec: GateSpec): GateState | undefined {
    if (!this.state.input.rehearsal?.skipGates) return undefined;
    const at = now();
    const gate: GateState = {
      name: spec.name,
      prompt: spec.prompt,
      status: 'approved',
      requestedAt: at,
      deadline: at,
      fourEyes: spec.fourEyes,
      ...(spec.choices?.length ? { choices: spec.choices, choice: spec.choices[0] } : {}),
      decidedBy: SKIPPED_BY,
      decidedAt: at,
      comment: 'not asked: rehearsal with --yes',
    };
    this.state.record.gates.push(gate);
    const choice = gate.choice !== undefined ? ` with its first choice (${gate.choice})` : '';
    this.state.note('gate', `Gate ${spec.name} not asked (--yes): taken as approved${choice} — ${spec.prompt}`, {
      gate: spec.name,
      skipped: true,
    });
    this.state.slack.cardChanged();
    return gate;
  }

  /** Instead of claiming the holds: whether a real run would wait, and for whom. */
  async noteHolds(): Promise<void> {
    const record = this.state.record;
    const byName = new Map([record.target, ...record.targets].map((t) => [formatTarget(t), t] as const));
    for (const [name, target] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
      try {
        const holder = await holdCalls.peekHold({ target });
        this.state.note(
          'note',
          holder
            ? `${name} is held by incident ${holder.incidentId} (${holder.workflowId}): a real run would wait for it; the rehearsal does not, and holds nothing`
            : `${name} is not held by any incident: a real run would hold it; the rehearsal holds nothing`,
          { hold: name, ...(holder ? { holder: holder.incidentId } : {}) },
        );
      } catch (err) {
        if (isCancellation(err)) throw err;
        this.state.note(
          'note',
          `Could not tell who holds ${name} (${failureMessage(err)}); the rehearsal holds nothing`,
        );
      }
    }
  }

  /** The runbook's steps are done: the rehearsal closes by itself, with what it would have changed. */
  finish(): void {
    const { record } = this.state;
    const rehearsal = record.rehearsal;
    const count = (rehearsal?.wouldChange.length ?? 0) + (rehearsal?.moreChanges ?? 0);
    // A dry run the API server refused is what a rehearsal is for: it ends failed, saying why.
    const failure = record.failure;
    record.outcome = failure
      ? `Rehearsal found a problem: ${failure.message} (${count} would-be change(s) before it; nothing changed)`
      : `Rehearsal complete: ${count} would-be change(s), nothing changed`;
    this.state.note(failure ? 'failure' : 'note', record.outcome, { wouldChange: count });
    this.state.setStatus(failure ? 'failed' : 'resolved');
  }

  private dryRunChanges(): KubernetesChanges {
    const rehearse = <K extends ChangeActivity>(name: K): KubernetesChanges[K] => {
      const call = kubeChange[name] as (input: Target & MutationOptions) => Promise<unknown>;
      const dryRun = async (input: Target & MutationOptions): Promise<unknown> => {
        const result = await call({ ...input, dryRun: true });
        this.recordWouldBe({ namespace: input.namespace, deployment: input.deployment }, name, result);
        return result;
      };
      return dryRun as KubernetesChanges[K];
    };
    return {
      rolloutRestart: rehearse('rolloutRestart'),
      rolloutUndo: rehearse('rolloutUndo'),
      scaleDeployment: rehearse('scaleDeployment'),
      setDeploymentEnv: rehearse('setDeploymentEnv'),
      setContainerResources: rehearse('setContainerResources'),
    };
  }

  private recordWouldBe(target: Target, name: ChangeActivity, result: unknown): void {
    const record = this.state.record;
    const rehearsal = (record.rehearsal ??= { skipGates: false, wouldChange: [], moreChanges: 0 });
    for (const what of wouldBeChanges(name, result)) {
      if (rehearsal.wouldChange.length < MAX_WOULD_BE_CHANGES) rehearsal.wouldChange.push({ target, what, at: now() });
      else rehearsal.moreChanges += 1;
      this.state.note('mitigation', wouldChangeText(target, what), {
        wouldChange: what,
        target: formatTarget(target),
        activity: name,
      });
    }
    this.state.slack.cardChanged();
  }
}
