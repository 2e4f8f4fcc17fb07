/**
 * The temporary-mitigation ledger: every setting a remediation changed, with the value it replaced
 * (domain/mitigations.ts defines the kinds). When the incident ends, the restore gate offers
 * putting them back, or they are put back when it times out; restoration survives restarts
 * because it is workflow code, and each restore carries the `<incident>:restore` marker.
 */
import { patched } from '@temporalio/workflow';
import { formatTarget } from '../../common/ids';
import type { Actor, Target } from '../../common/types';
import { RESTORE_GATE } from '../../domain/gates';
import {
  describeChange,
  liveValue,
  mitigationKey,
  type MitigationChange,
  type MitigationRecord,
} from '../../domain/mitigations';
import type { Approvals } from './approvals';
import { failureMessage } from './failures';
import { RESTORE_READS_SETTINGS } from './patches';
import { kubeChange, kubeRead } from './proxies';
import { actorName, now, type IncidentState } from './state';

export class MitigationLedger {
  constructor(
    private readonly state: IncidentState<unknown>,
    private readonly approvals: Approvals,
  ) {}

  /** Records settings a remediation changed; a setting changed twice keeps its first previous value. */
  record(target: Target, changes: MitigationChange[]): void {
    const mitigations = this.state.record.mitigations;
    for (const change of changes) {
      const key = mitigationKey(target, change);
      const known = mitigations.find((m) => m.key === key && m.restoredAt === undefined);
      if (known) {
        known.change = { ...change, previous: known.change.previous } as MitigationChange;
        continue;
      }
      mitigations.push({ key, target, change, appliedAt: now() });
      this.state.note('mitigation', `Temporary mitigation on ${formatTarget(target)}: ${describeChange(change)}`, {
        key,
        previous: change.previous,
        applied: change.applied,
      });
    }
  }

  has(key: string): boolean {
    return this.state.record.mitigations.some((m) => m.key === key);
  }

  /** Asks through the restore gate, unless `restoreNowBy` (an approver cancelling) asked for it at once. */
  async offerRestoration(restoreNowBy?: Actor): Promise<void> {
    const { record, policy } = this.state;
    const active = record.mitigations.filter((m) => m.restoredAt === undefined && m.restoreNote === undefined);
    if (active.length === 0) return;
    record.currentStep = 'restore mitigations';
    if (restoreNowBy) {
      this.state.note(
        'restoration',
        `Restoring ${active.length} mitigation(s) at once, as ${actorName(restoreNowBy)} asked`,
      );
      for (const mitigation of [...active].reverse()) await this.restore(mitigation);
      return;
    }
    const list = active.map((m) => `${m.key} → ${String(m.change.previous ?? 'unset')}`).join('; ');
    const gate = await this.approvals.ask({
      name: RESTORE_GATE.name,
      prompt: `Restore ${active.length} temporary mitigation(s) to their previous values? ${list}`,
      fourEyes: false,
      deadlineMs: policy.restoreAfterMs,
      escalateAfterMs: null,
      withdrawOnResolve: false,
    });
    if (gate.status === 'rejected') {
      this.state.note('restoration', `Mitigations kept in place by ${actorName(gate.decidedBy)}`);
      return;
    }
    if (gate.status === 'timed_out') this.state.note('restoration', 'No decision: restoring mitigations as configured');
    // Reverse order: the last change made is the first undone, as a saga compensates. Inline, not a
    // helper: an extra await here reorders the close's commands against the courier's (replay).
    for (const mitigation of [...active].reverse()) await this.restore(mitigation);
  }

  /**
   * Reads the live value first: if someone changed the setting since the mitigation, their value
   * wins and the skip is noted instead of silently overwritten.
   */
  private async restore(mitigation: MitigationRecord): Promise<void> {
    const marker = { ...mitigation.target, incidentId: `${this.state.id}:restore` };
    const change = mitigation.change;
    try {
      const current = await this.readCurrent(mitigation);
      if (current !== change.applied) {
        mitigation.restoreNote = `left as ${String(current ?? 'unset')}: changed since the mitigation set ${String(change.applied ?? 'unset')}`;
        this.state.note('restoration', `Not restoring ${mitigation.key}: ${mitigation.restoreNote}`, {
          key: mitigation.key,
        });
        return;
      }
      switch (change.kind) {
        case 'env':
          await kubeChange.setDeploymentEnv({
            ...marker,
            container: change.container,
            env: { [change.name]: change.previous },
          });
          break;
        case 'replicas':
          await kubeChange.scaleDeployment({ ...marker, replicas: change.previous });
          break;
        case 'resources':
          await kubeChange.setContainerResources({
            ...marker,
            container: change.container,
            [change.field]: { [change.resource]: change.previous },
          });
          break;
      }
      mitigation.restoredAt = now();
      this.state.note('restoration', `Restored ${mitigation.key} to ${String(change.previous ?? 'unset')}`, {
        key: mitigation.key,
      });
    } catch (err) {
      mitigation.restoreNote = `restore failed: ${failureMessage(err)}`;
      this.state.note('failure', `Restoring ${mitigation.key} failed: ${failureMessage(err)}`, { key: mitigation.key });
    }
  }

  /** The setting's live value, through a quick read; incidents begun before that read use a dry-run patch. */
  private async readCurrent(mitigation: MitigationRecord): Promise<string | number | null> {
    const change = mitigation.change;
    if (patched(RESTORE_READS_SETTINGS)) {
      const container = change.kind === 'replicas' ? {} : { container: change.container };
      return liveValue(change, await kubeRead.readDeploymentSettings({ ...mitigation.target, ...container }));
    }
    const probe = { ...mitigation.target, incidentId: `${this.state.id}:restore`, dryRun: true };
    if (change.kind === 'env') {
      const result = await kubeChange.setDeploymentEnv({
        ...probe,
        container: change.container,
        env: { [change.name]: change.previous },
      });
      return result.previous[change.name] ?? null;
    }
    if (change.kind === 'replicas') {
      return (await kubeChange.scaleDeployment({ ...probe, replicas: change.previous })).previousReplicas;
    }
    const result = await kubeChange.setContainerResources({
      ...probe,
      container: change.container,
      [change.field]: { [change.resource]: change.previous },
    });
    return result.previous[change.field][change.resource] ?? null;
  }
}
