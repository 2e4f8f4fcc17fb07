/**
 * The refusal log: where a refusal with no incident to be recorded on goes — the CLI's refused
 * starts, and refusals on an incident that closed meanwhile. The CLI has no /metrics of its own, so
 * it signals the refusal here (signal-with-start) and the worker counts it through the `access`
 * sink into the `/metrics` of `firebreak start`; the log keeps the last few for `recentRefusals`.
 */
import { condition, continueAsNew, proxySinks, setHandler, workflowInfo } from '@temporalio/workflow';
import { refusedSignal } from '../domain/messages';
import {
  boundedRefusal,
  recentRefusalsQuery,
  refusalLabels,
  type FirebreakSinks,
  type LoggedRefusal,
} from '../domain/refusals';
import { followCurrentBuild } from './versioning';

/** The refusals kept: enough to see who tried what lately, bounded whatever is sent. */
export const MAX_LOGGED_REFUSALS = 50;
/** Signals per run before handing over to a fresh run, so the history stays short. */
const SIGNALS_PER_RUN = 500;
/** With nothing for this long the log ends; the next refusal starts it again. */
const IDLE_FOR = '1 hour';

const { access } = proxySinks<FirebreakSinks>();

export interface RefusalLogInput {
  /** What the previous run kept (continue-as-new). */
  recent?: LoggedRefusal[];
}

/**
 * Changes nothing outside Temporal. Idempotency key: the workflow id refusalLogWorkflowId(task
 * queue) — one log per installation. No activities, so no timeout profile.
 */
export async function accessRefusalsWorkflow(input: RefusalLogInput = {}): Promise<void> {
  const recent = (input.recent ?? []).slice(-MAX_LOGGED_REFUSALS);
  let received = 0;
  setHandler(refusedSignal, (sent) => {
    received += 1;
    const notice = sent ?? { actor: { id: '' }, action: '', reason: '' };
    if (notice.counted !== true) access.refused(refusalLabels(notice));
    recent.push(boundedRefusal(notice, new Date().toISOString()));
    if (recent.length > MAX_LOGGED_REFUSALS) recent.shift();
  });
  setHandler(recentRefusalsQuery, () => recent);

  let seen = 0;
  for (;;) {
    const more = await condition(() => received > seen, IDLE_FOR);
    if (!more) return;
    seen = received;
    if (received >= SIGNALS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      return continueAsNew<typeof accessRefusalsWorkflow>({ recent });
    }
  }
}

followCurrentBuild(accessRefusalsWorkflow);
