/**
 * Runbook files (runbooks/files, docs/runbooks.md) run by one workflow type on the incident kernel.
 * The definition is the one pinned in the start input at start (with its sha256): editing the file
 * never changes a running incident, and its history replays.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { ErrorType } from '../../common/errors';
import type { IncidentRecord } from '../../common/types';
import type { PinnedFileRunbook } from '../../runbooks/files/schema';
import { runIncident, type ResumableInput } from '../incident';
import { RunbookInterpreter } from './interpreter';

/**
 * Changes: those the file's steps name (each with the incident id as its marker), only on the
 * incident's own targets. Timeouts: the kernel's profiles per activity. Returns the incident record.
 */
export async function declarativeRunbookWorkflow(
  input: ResumableInput<Record<string, unknown>>,
): Promise<IncidentRecord> {
  const pinned = input.definition as PinnedFileRunbook | undefined;
  if (!pinned) {
    throw ApplicationFailure.nonRetryable('a runbook file incident needs its definition', ErrorType.INVALID_INPUT);
  }
  return runIncident(input, (incident) => new RunbookInterpreter(incident, pinned).run());
}
