/**
 * The worker end of the workflows' sinks. `access.refused` counts a refusal a workflow saw (the
 * CLI's, the kernel's own) into `firebreak_access_refusals_total` — the counter the ingress of the
 * same `firebreak start` serves on /metrics. Not called on replay, so a history read again counts
 * nothing twice; the labels are checked again here, whatever the workflow code passed.
 */
import type { InjectedSinks } from '@temporalio/worker';
import type { Counter } from 'prom-client';
import { refusalLabels, type FirebreakSinks } from '../domain/refusals';

export function createSinks(refusals?: Counter<'action' | 'channel'>): InjectedSinks<FirebreakSinks> {
  return {
    access: {
      refused: {
        fn: (_info, labels) => {
          const { action, channel } = refusalLabels({
            action: labels?.action,
            channel: labels?.channel,
            actor: { id: '' },
          });
          refusals?.inc({ action, channel });
        },
        callDuringReplay: false,
      },
    },
  };
}
