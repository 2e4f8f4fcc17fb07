/**
 * When the incident's history is long enough to continue as a new run. Temporal's own suggestion
 * depends on the server's dynamic config; these bounds hold whatever it says, by events and by
 * bytes (a few large signals make a history heavy long before it is long). Both sit far below the
 * server's hard limits (50 MB, 51,200 events), which terminate the run.
 */
import { workflowInfo } from '@temporalio/workflow';

export const HISTORY_BYTES_BUDGET = 4 * 1024 * 1024;
export const HISTORY_EVENTS_BUDGET = 10_000;

export function historyIsLong(): boolean {
  const info = workflowInfo();
  return (
    info.continueAsNewSuggested ||
    info.historySize >= HISTORY_BYTES_BUDGET ||
    info.historyLength >= HISTORY_EVENTS_BUDGET
  );
}
