/**
 * TEST ONLY — the chaos sweep's activity hook (test/chaos/sweep.ts, docs/reliability.md). Never set
 * in production: nothing is installed without FIREBREAK_TEST_ACTIVITY_HOOK, so a production worker
 * runs no code and makes no call of it.
 *
 * Temporal writes an activity's started event only when the attempt ends, and a fast activity (a
 * thread post, a card update) starts and completes between two looks at the execution's pending
 * activities, so the sweep could not kill the engine "while activity X runs" by watching Temporal.
 * With FIREBREAK_TEST_ACTIVITY_HOOK=http://127.0.0.1:<port> (set by the chaos harness on the engine
 * child process it starts), every activity attempt announces itself there, once as it starts (before
 * its body) and once as its body has returned or thrown (before the worker reports the outcome),
 * and waits for the answer. The harness answers at once, except for the attempt it means to kill at:
 * that one it holds while it SIGKILLs the engine. An answer that does not come within
 * ACTIVITY_HOOK_WAIT_MS, or a hook that cannot be reached, lets the attempt go on, so a harness that
 * stopped listening wedges nothing.
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { ConfigError } from '../config/env';

export const ACTIVITY_HOOK_ENV = 'FIREBREAK_TEST_ACTIVITY_HOOK';

/** How long an attempt waits for the hook's answer before it goes on regardless. */
export const ACTIVITY_HOOK_WAIT_MS = 5_000;

/** What an attempt tells the hook (POSTed as JSON to `<hook>/activity`). */
export interface ActivityAnnouncement {
  /** `start`: before the body runs; `end`: the body has returned or thrown, its outcome not yet reported. */
  phase: 'start' | 'end';
  workflowId: string;
  activityId: string;
  activityType: string;
  attempt: number;
}

/** The hook's interceptors when FIREBREAK_TEST_ACTIVITY_HOOK is set (a loopback http URL), else none. */
export function activityHookInterceptors(
  source: NodeJS.ProcessEnv = process.env,
  waitMs = ACTIVITY_HOOK_WAIT_MS,
): ActivityInterceptorsFactory[] {
  const hook = source[ACTIVITY_HOOK_ENV];
  if (!hook) return [];
  let url: URL;
  try {
    url = new URL('activity', hook.endsWith('/') ? hook : `${hook}/`);
  } catch {
    throw new ConfigError(
      `${ACTIVITY_HOOK_ENV}: not a URL (got ${JSON.stringify(hook)}); it is for the chaos tests only`,
    );
  }
  if (url.protocol !== 'http:' || !/^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(url.hostname)) {
    throw new ConfigError(
      `${ACTIVITY_HOOK_ENV}: must be an http URL on loopback (got ${hook}); it is for the chaos tests only`,
    );
  }
  const announce = async (announcement: ActivityAnnouncement): Promise<void> => {
    try {
      const answer = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(announcement),
        signal: AbortSignal.timeout(waitMs),
      });
      await answer.text();
    } catch {
      // No answer in time, or no hook listening: the attempt goes on.
    }
  };
  return [
    (ctx) => ({
      inbound: {
        async execute(input, next) {
          const info = ctx.info;
          const about = {
            workflowId: info.workflowExecution?.workflowId ?? '',
            activityId: info.activityId,
            activityType: info.activityType,
            attempt: info.attempt,
          };
          await announce({ phase: 'start', ...about });
          try {
            return await next(input);
          } finally {
            await announce({ phase: 'end', ...about });
          }
        },
      },
    }),
  ];
}
