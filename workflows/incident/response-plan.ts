/**
 * The response plan after acknowledgement (seed 003: acknowledge, investigate, resolve): per
 * severity, a first update, mitigation and resolution each have a deadline measured from the
 * acknowledgement. A missed deadline posts a reminder in the thread mentioning the responder; still
 * missed after the grace period, the next tier is paged. Incidents begun before the plan existed
 * replay without it (patched()).
 */
import { condition, isCancellation, patched } from '@temporalio/workflow';
import type { ResponseDeadlines } from '../../common/incident';
import type { IncidentRecord } from '../../common/types';
import { isClosed } from '../../domain/record';
import type { Escalation } from './escalation';
import { failureMessage } from './failures';
import { RESPONSE_PLAN } from './patches';
import { actorName, type IncidentState } from './state';

interface Stage {
  name: string;
  deadlineMs: (deadlines: ResponseDeadlines) => number;
  met: (record: IncidentRecord, acknowledgedAt: number) => boolean;
}

const HUMAN_ACTS = new Set(['decision', 'note']);

const STAGES: readonly Stage[] = [
  {
    name: 'first update',
    deadlineMs: (d) => d.firstUpdateMs,
    met: (record, ackAt) =>
      record.mitigatedAt !== undefined ||
      record.timeline.some(
        (e) => Date.parse(e.at) > ackAt && HUMAN_ACTS.has(e.kind) && typeof e.data?.actor === 'string',
      ),
  },
  { name: 'mitigation', deadlineMs: (d) => d.mitigateMs, met: (record) => record.mitigatedAt !== undefined },
  // The watch's own `done` ends this stage when the incident closes.
  { name: 'resolution', deadlineMs: (d) => d.resolveMs, met: () => false },
];

export class ResponsePlanWatch {
  constructor(
    private readonly state: IncidentState<unknown>,
    private readonly escalation: Escalation,
  ) {}

  async run(): Promise<void> {
    const record = this.state.record;
    try {
      await condition(() => record.acknowledgedAt !== undefined || isClosed(record));
      const plan = this.state.policy.responsePlan;
      if (isClosed(record) || !plan || !patched(RESPONSE_PLAN)) return;
      const deadlines = plan.deadlines[record.severity];
      const ackAt = Date.parse(record.acknowledgedAt!);
      for (const stage of STAGES) {
        await this.watch(stage, ackAt, ackAt + stage.deadlineMs(deadlines), plan.graceMs);
        if (isClosed(record)) break;
      }
    } catch (err) {
      if (isCancellation(err)) return;
      this.state.note('failure', `Response plan watch failed: ${failureMessage(err)}`);
    } finally {
      record.nextDeadline = undefined;
    }
  }

  private async watch(stage: Stage, ackAt: number, due: number, graceMs: number): Promise<void> {
    const record = this.state.record;
    const done = () => isClosed(record) || stage.met(record, ackAt);
    record.nextDeadline = { stage: stage.name, at: new Date(due).toISOString() };
    this.state.slack.cardChanged();
    if (await condition(done, Math.max(1, due - Date.now()))) return;
    const responder = record.acknowledgedBy;
    const text = `Response plan: the ${stage.name} deadline passed — ${actorName(responder)}, please update the incident`;
    this.state.note(
      'note',
      text,
      { stage: stage.name, reminder: true, ...(responder ? { responder: responder.id } : {}) },
      { post: false },
    );
    // Posted as an escalation item so Slack mentions the responder (a thread entry's text is escaped).
    const mentions = responder && /^[UW][A-Z0-9]+$/.test(responder.id) ? [responder.id] : [];
    this.state.slack.post({ kind: 'escalation', tier: 'response plan', mentions, text });
    record.nextDeadline = { stage: `${stage.name} (grace)`, at: new Date(due + graceMs).toISOString() };
    if (await condition(done, graceMs)) return;
    await this.escalation.escalate(`response plan: ${stage.name} overdue`);
  }
}
