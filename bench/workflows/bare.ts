/**
 * The floors the engine is measured against: workflows that do nothing Firebreak does.
 *  - bareAlertWorkflow takes `alert` signals (what a bare signal / signal-with-start loop sends) and
 *    `alerts` signals (several notifications each, as the ingress coalesces them) and only counts
 *    them, until cancelled or terminated;
 *  - bareActivityWorkflow calls one activity at once (start → first activity, the kernel's floor).
 */
import { condition, defineQuery, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';

export const bareCountQuery = defineQuery<number>('count');
/** The same name and shape as the incident's own alert signal. */
export const bareAlertSignal = defineSignal<[unknown]>('alert');
/** The same name and shape as the incident's coalesced signal: several notifications in one. */
export const bareAlertsSignal = defineSignal<[unknown[]]>('alerts');

export async function bareAlertWorkflow(): Promise<void> {
  let count = 0;
  setHandler(bareCountQuery, () => count);
  setHandler(bareAlertSignal, () => void (count += 1));
  setHandler(bareAlertsSignal, (notifications) => void (count += notifications.length));
  await condition(() => false);
}

export interface BareActivities {
  firstStep(input: { id: string }): Promise<void>;
}

const { firstStep } = proxyActivities<BareActivities>({ startToCloseTimeout: '10 seconds' });

export async function bareActivityWorkflow(input: { id: string }): Promise<void> {
  await firstStep(input);
  await condition(() => false);
}
