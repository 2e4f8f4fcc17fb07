/** How failures read on the timeline and in the record: the activity's own words, not its wrapper's. */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

export function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

export function describeFailure(err: ActivityFailure | ApplicationFailure): { type: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'ApplicationFailure', message: cause.message };
  return { type: cause?.name ?? 'ActivityFailure', message: cause?.message ?? err.message };
}
