/**
 * What `/metrics` learns from an incident (domain/engine-metrics.ts), read off its timeline as the
 * entries are written: an acknowledgement, a gate decided or ended, a tier paged, a mitigation
 * applied or restored, the close. Sink calls are not commands: reporting changes nothing in the
 * history, and a rehearsal reports nothing.
 */
import { proxySinks } from '@temporalio/workflow';
import type { IncidentRecord, TimelineEntry } from '../../common/types';
import type { IncidentMetricsSinks } from '../../domain/engine-metrics';

const { incidents } = proxySinks<IncidentMetricsSinks>();

const secondsBetween = (from: string, to: string) => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

export class IncidentMetrics {
  private closed = false;
  private pending: number;

  constructor(
    private readonly record: IncidentRecord,
    private readonly rehearsal: boolean,
  ) {
    // A continued run, or a record resumed with mitigations in place, says so from the start.
    this.pending = 0;
    this.reportPending();
  }

  /** Called with each timeline entry, after the record changed. */
  saw(entry: TimelineEntry): void {
    if (this.rehearsal) return;
    const { record } = this;
    const labels = { runbook: record.runbook, severity: record.severity };
    const data = entry.data ?? {};
    switch (entry.kind) {
      case 'acknowledged':
        if (record.acknowledgedAt) {
          incidents.acknowledged({ ...labels, seconds: secondsBetween(record.openedAt, record.acknowledgedAt) });
        }
        break;
      case 'escalation':
        if (typeof data.kind === 'string' && data.wouldPage !== true) {
          incidents.escalated({ ...labels, channel: data.kind });
        }
        break;
      case 'decision':
      case 'gate': {
        const decision = entry.kind === 'decision' ? data.decision : data.status;
        if (decision !== 'approved' && decision !== 'rejected' && decision !== 'timed_out') break;
        const gate = record.gates.find((g) => g.name === data.gate);
        if (gate) {
          incidents.gateDecided({
            runbook: record.runbook,
            decision,
            seconds: secondsBetween(gate.requestedAt, gate.decidedAt ?? entry.at),
          });
        }
        break;
      }
      case 'mitigation':
      case 'restoration':
        this.reportPending();
        break;
      default:
        break;
    }
    if (record.closedAt !== undefined && !this.closed) {
      this.closed = true;
      incidents.closed({ ...labels, status: record.status, seconds: secondsBetween(record.openedAt, record.closedAt) });
      this.reportPending();
    }
  }

  private reportPending(): void {
    if (this.rehearsal) return;
    const count =
      this.record.closedAt !== undefined
        ? 0
        : this.record.mitigations.filter((m) => m.restoredAt === undefined && m.restoreNote === undefined).length;
    if (count === this.pending) return;
    this.pending = count;
    incidents.pendingRestore({ runbook: this.record.runbook, count });
  }
}
