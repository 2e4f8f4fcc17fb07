/**
 * The deployment hold: one incident at a time may change a deployment. Claims arrive by
 * signal-with-start (activities/hold.ts); the first live claimant holds, the others queue in
 * arrival order and are told who holds. The hold passes on when its holder releases it (at close)
 * or is found dead: every claim, and every interval while someone waits, describes the holder, so
 * a cancelled, terminated or timed-out incident never blocks the next. Ends when nobody holds or waits.
 */
import {
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { HoldActivities } from '../activities/hold';
import {
  claimHoldSignal,
  claimHoldUpdate,
  holdNoticeSignal,
  holdQuery,
  MAX_HOLD_WAITERS,
  releaseHoldSignal,
  type HoldClaim,
  type HoldInput,
  type HoldNotice,
} from '../domain/hold';
import { followCurrentBuild } from './versioning';

/** How often a waiter's holder is checked for life. */
const LIVENESS_CHECK_MS = 10_000;

const holdActivities = proxyActivities<Pick<HoldActivities, 'isIncidentRunning'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 5 },
});

type Event = { claim: HoldClaim } | { release: string };

/**
 * Changes nothing outside Temporal: signals the incidents it grants to, queues or names. Idempotent:
 * a repeated claim is answered again. Timeouts: QUICK-like liveness checks every 10 s while someone waits.
 */
export async function deploymentHoldWorkflow(input: HoldInput): Promise<void> {
  const { target } = input;
  let holder = input.holder;
  const waiting: HoldClaim[] = [...(input.waiting ?? [])];
  const inbox: Event[] = [];
  setHandler(claimHoldSignal, (claim) => void inbox.push({ claim }));
  // True while the loop handles events: the holder may be passing on, so a claim is not answered
  // then (granting it could make two holders); at rest the answer is the one the loop would send.
  let settling = false;
  // Decided now so the claimant need not wait for a notice; the loop then handles the claim as if
  // signalled (queue, notices, the holder's liveness).
  setHandler(claimHoldUpdate, (claim): HoldNotice | null => {
    inbox.push({ claim });
    if (holder?.workflowId === claim.workflowId) return { kind: 'granted', target };
    if (settling) return null;
    if (!holder && waiting.length === 0) {
      holder = claim;
      return { kind: 'granted', target };
    }
    return holder ? { kind: 'waiting', target, holder } : null;
  });
  setHandler(releaseHoldSignal, ({ workflowId }) => void inbox.push({ release: workflowId }));
  setHandler(holdQuery, () => ({ target, ...(holder ? { holder } : {}), waiting }));

  const notify = async (to: HoldClaim, notice: HoldNotice): Promise<boolean> => {
    try {
      await getExternalWorkflowHandle(to.workflowId).signal(holdNoticeSignal, notice);
      return true;
    } catch (err) {
      if (isCancellation(err)) throw err;
      return false;
    }
  };
  // A check that cannot be made counts as alive: two holders would be worse than a later retry.
  const alive = async (claim: HoldClaim) => {
    try {
      return await holdActivities.isIncidentRunning({ workflowId: claim.workflowId });
    } catch (err) {
      if (isCancellation(err)) throw err;
      return true;
    }
  };

  for (;;) {
    settling = false;
    const arrived = await condition(() => inbox.length > 0, waiting.length > 0 ? LIVENESS_CHECK_MS : undefined);
    settling = true;
    let checkHolder = !arrived;
    for (const event of inbox.splice(0)) {
      if ('release' in event) {
        if (holder?.workflowId === event.release) holder = undefined;
        else removeClaim(waiting, event.release);
        continue;
      }
      const claim = event.claim;
      if (holder?.workflowId === claim.workflowId) {
        await notify(claim, { kind: 'granted', target });
      } else if (!holder) {
        holder = claim;
        removeClaim(waiting, claim.workflowId);
        if (!(await notify(claim, { kind: 'granted', target }))) holder = undefined;
      } else {
        if (!waiting.some((w) => w.workflowId === claim.workflowId) && waiting.length < MAX_HOLD_WAITERS) {
          waiting.push(claim);
        }
        await notify(claim, { kind: 'waiting', target, holder });
        await notify(holder, { kind: 'waited-on', target, waiter: claim });
        checkHolder = true;
      }
    }
    if (holder && checkHolder && !(await alive(holder))) holder = undefined;
    while (!holder && waiting.length > 0) {
      const next = waiting.shift()!;
      if ((await alive(next)) && (await notify(next, { kind: 'granted', target }))) holder = next;
    }
    if (!holder && waiting.length === 0 && inbox.length === 0) return;
    if (workflowInfo().continueAsNewSuggested && inbox.length === 0) {
      return continueAsNew<typeof deploymentHoldWorkflow>({ target, ...(holder ? { holder } : {}), waiting });
    }
  }
}

function removeClaim(claims: HoldClaim[], workflowId: string): void {
  const index = claims.findIndex((c) => c.workflowId === workflowId);
  if (index >= 0) claims.splice(index, 1);
}

followCurrentBuild(deploymentHoldWorkflow);
