/**
 * The deployment hold's side effects, through the worker's own Temporal client (the activity
 * context's): claiming a hold is a signal-with-start of the hold workflow, so the first claim starts
 * it and later ones join it atomically; releasing is a signal; a holder is alive while its workflow runs.
 */
import { Context } from '@temporalio/activity';
import {
  isGrpcServiceError,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import type { Target } from '../common/types';
import {
  claimHoldSignal,
  claimHoldUpdate,
  HOLD_WORKFLOW_TYPE,
  holdQuery,
  holdWorkflowId,
  releaseHoldSignal,
  type HoldClaim,
  type HoldInput,
  type HoldNotice,
} from '../domain/hold';

export interface HoldRequest extends HoldClaim {
  target: Target;
}

export function createHoldActivities() {
  return {
    /**
     * Claims the deployment for an incident. Idempotent: a repeated claim by the same incident is
     * answered with the same grant (or place in the queue). Changes nothing outside Temporal.
     */
    async claimHold(request: HoldRequest): Promise<void> {
      const { client, info } = Context.current();
      const input: HoldInput = { target: request.target };
      await client.workflow.signalWithStart(HOLD_WORKFLOW_TYPE, {
        workflowId: holdWorkflowId(request.target),
        taskQueue: info.taskQueue,
        args: [input],
        signal: claimHoldSignal,
        signalArgs: [{ workflowId: request.workflowId, incidentId: request.incidentId }],
      });
    },

    /**
     * Claims deployments nobody holds, one start each: starts each one's hold with this incident as
     * its holder, in the order given (the incident's fixed order), and stops at the first hold that
     * already runs (held, queued for, passing on, or started by this incident's own earlier
     * attempt). Returns how many were started: those are granted; the incident claims the rest
     * through requestHold, which a running hold answers. Run as one local activity on the path to
     * the first remediation; changes nothing outside Temporal.
     */
    async claimFreeHolds(requests: HoldRequest[]): Promise<number> {
      const { client, info } = Context.current();
      let started = 0;
      for (const request of requests) {
        const holder = { workflowId: request.workflowId, incidentId: request.incidentId };
        const input: HoldInput = { target: request.target, holder };
        try {
          await client.workflow.start(HOLD_WORKFLOW_TYPE, {
            workflowId: holdWorkflowId(request.target),
            taskQueue: info.taskQueue,
            args: [input],
          });
        } catch (err) {
          if (err instanceof WorkflowExecutionAlreadyStartedError) break;
          throw err;
        }
        started++;
      }
      return started;
    },

    /**
     * Claims the deployment and returns the hold's answer: granted, waiting behind the named
     * holder, or null when the hold is passing between incidents (the answer then comes as a
     * notice). One update-with-start: the first claim starts the hold, later ones join it, and
     * the claimant need not wait for the notice to go on. Idempotent like claimHold; changes
     * nothing outside Temporal.
     */
    async requestHold(request: HoldRequest): Promise<HoldNotice | null> {
      const { client, info } = Context.current();
      const input: HoldInput = { target: request.target };
      const claim = { workflowId: request.workflowId, incidentId: request.incidentId };
      try {
        return await untilAttemptEnds(() =>
          client.workflow.executeUpdateWithStart(claimHoldUpdate, {
            args: [claim],
            startWorkflowOperation: new WithStartWorkflowOperation(HOLD_WORKFLOW_TYPE, {
              workflowId: holdWorkflowId(request.target),
              taskQueue: info.taskQueue,
              args: [input],
              workflowIdConflictPolicy: 'USE_EXISTING',
            }),
          }),
        );
      } catch (err) {
        // A cluster without update-with-start (older servers, or turned off): claim by signal; the
        // answer then comes as a notice.
        if (!multiOperationUnavailable(err)) throw err;
        await client.workflow.signalWithStart(HOLD_WORKFLOW_TYPE, {
          workflowId: holdWorkflowId(request.target),
          taskQueue: info.taskQueue,
          args: [input],
          signal: claimHoldSignal,
          signalArgs: [claim],
        });
        return null;
      }
    },

    /** Gives the deployment up (or leaves its queue). Idempotent; a hold already gone is fine. */
    async releaseHold(request: HoldRequest): Promise<void> {
      try {
        await Context.current()
          .client.workflow.getHandle(holdWorkflowId(request.target))
          .signal(releaseHoldSignal, { workflowId: request.workflowId });
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    },

    /**
     * Who holds a deployment now, without claiming it: a rehearsal says whether a real run would
     * wait. Read-only (a query of the running hold); undefined when nobody holds it.
     */
    async peekHold(request: { target: Target }): Promise<HoldClaim | undefined> {
      const handle = Context.current().client.workflow.getHandle(holdWorkflowId(request.target));
      try {
        const described = await handle.describe();
        if (described.status.name !== 'RUNNING') return undefined;
        return (await untilAttemptEnds(() => handle.query(holdQuery))).holder;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      }
    },

    /** Whether an incident's workflow (its latest run) is still running: a dead holder holds nothing. */
    async isIncidentRunning(request: { workflowId: string }): Promise<boolean> {
      try {
        const described = await Context.current().client.workflow.getHandle(request.workflowId).describe();
        return described.status.name === 'RUNNING';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
  };
}

export type HoldActivities = ReturnType<typeof createHoldActivities>;

/**
 * A call answered by a workflow task (an update, a query) ends with the activity attempt that made
 * it. The hold's workflow task is served by the same workers as the incidents: a worker shutting
 * down polls no more workflow tasks, so an unanswered claim would wait forever and the worker,
 * waiting for this activity, would never finish shutting down. The worker's own client does not
 * abort calls on the activity's cancellation signal, so the call is bounded by the attempt's
 * start-to-close as a deadline, and given up as soon as the activity is cancelled (worker shutdown,
 * local timeout); the workflow retries the claim, which is idempotent.
 */
async function untilAttemptEnds<T>(call: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const work = context.client.withDeadline(Date.now() + context.info.startToCloseTimeoutMs, call);
  // Given up on cancellation, the call still settles (by its deadline at the latest): not unhandled.
  work.catch(() => undefined);
  return Promise.race([work, context.cancelled]);
}

/** UNIMPLEMENTED or PERMISSION_DENIED for the multi-operation call, anywhere in the cause chain. */
function multiOperationUnavailable(err: unknown): boolean {
  for (let cause: unknown = err, depth = 0; cause && depth < 5; depth++) {
    if (isGrpcServiceError(cause) && (cause.code === 12 || cause.code === 7)) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}
