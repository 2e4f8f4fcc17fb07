/**
 * A group is one incident for its whole life. Its workflow id is the group's, so a notification
 * after the incident closed normally (resolved, cancelled) rightly opens a new incident; but a run
 * that ended without closing — failed, terminated (by an operator, or by Temporal for a payload or
 * history over its limits), timed out — never escalated further nor restored what it changed. The
 * next notification must not open a fresh incident as if nothing had happened. So the new run takes
 * the dead one's incident id (its remediation markers then keep it from repeating a change the
 * dead run made) and the dead run's id, which it reports on the card's thread the moment it opens;
 * the ingress logs it and says so in its answer. Nothing is dropped: the firing alerts still get a
 * running incident.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { PreviousRun } from '../../common/incident';
import { incidentIdKey } from '../../common/search-attributes';
import type { PreparedIncident } from '../../runbooks';

const UNCLOSED = new Set(['FAILED', 'TERMINATED', 'TIMED_OUT']);

/** The group's latest run when it ended without closing; undefined when there is none or it closed. */
export async function unclosedRun(client: Client, workflowId: string): Promise<PreviousRun | undefined> {
  try {
    const run = await client.workflow.getHandle(workflowId).describe();
    if (!UNCLOSED.has(run.status.name)) return undefined;
    const incidentId = run.typedSearchAttributes.get(incidentIdKey);
    return {
      workflowId,
      runId: run.runId,
      status: run.status.name,
      ...(run.closeTime ? { closedAt: run.closeTime.toISOString() } : {}),
      ...(incidentId ? { incidentId } : {}),
    };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** The incident to start, as the dead run's incident taken up again. */
export function takingUp(prepared: PreparedIncident, previous: PreviousRun): PreparedIncident {
  const incidentId = previous.incidentId ?? prepared.input.incidentId;
  return {
    ...prepared,
    input: { ...prepared.input, incidentId, previousRun: previous },
    searchAttributes: prepared.searchAttributes.map((pair) =>
      pair.key.name === incidentIdKey.name ? { key: incidentIdKey, value: incidentId } : pair,
    ),
  };
}

export function previousRunNote(previous: PreviousRun): string {
  return (
    `the group's previous run ${previous.runId} (${previous.incidentId ?? previous.workflowId}) ended ` +
    `${previous.status} without closing; this run takes it up again and says so on the incident`
  );
}
