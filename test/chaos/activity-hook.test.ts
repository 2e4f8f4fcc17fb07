/**
 * The test-only activity hook (worker/activity-hook.ts) with the sweep's listener (test/chaos/activity-hook.ts,
 * ActivityHook) over real loopback HTTP, no bed: nothing is installed without the variable; an
 * attempt announces its start and its end around its body; a held start keeps the body from running
 * until the hook lets it go; an answer that never comes, or no hook at all, lets the attempt go on.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Context } from '@temporalio/activity';
import type { ActivityExecuteInput } from '@temporalio/worker';
import { ACTIVITY_HOOK_ENV, activityHookInterceptors, type ActivityAnnouncement } from '../../worker/activity-hook';
import { ActivityHook } from './activity-hook';

/** Runs one attempt of `body` through the hook's interceptor, as the worker would. */
function attempt(env: NodeJS.ProcessEnv, body: () => Promise<unknown>, waitMs?: number) {
  const [factory] = activityHookInterceptors(env, waitMs);
  assert.ok(factory, 'an interceptor is installed');
  const ctx = {
    info: {
      workflowExecution: { workflowId: 'wf-1', runId: 'run-1' },
      activityId: '7',
      activityType: 'postTimelineEntry',
      attempt: 1,
    },
  } as unknown as Context;
  const execute = factory(ctx).inbound?.execute;
  assert.ok(execute);
  return execute({ args: [], headers: {} } as ActivityExecuteInput, () => body());
}

describe('the chaos sweep activity hook (test only)', () => {
  test('without FIREBREAK_TEST_ACTIVITY_HOOK nothing is installed; a hook off loopback is refused', () => {
    assert.deepEqual(activityHookInterceptors({}), []);
    assert.throws(() => activityHookInterceptors({ [ACTIVITY_HOOK_ENV]: 'http://10.0.0.1:9000' }), /loopback/);
    assert.throws(() => activityHookInterceptors({ [ACTIVITY_HOOK_ENV]: 'not a url' }), /not a URL/);
  });

  test('an attempt announces its start and end; a held start keeps its body waiting until let go', async () => {
    const hook = await ActivityHook.listen();
    try {
      const seen: ActivityAnnouncement[] = [];
      const log: string[] = [];
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let announced!: () => void;
      const startAnnounced = new Promise<void>((resolve) => (announced = resolve));
      hook.on((a) => {
        seen.push(a);
        log.push(`announced ${a.phase}`);
        if (a.phase !== 'start') return undefined;
        announced();
        return held;
      });
      const result = attempt({ [ACTIVITY_HOOK_ENV]: hook.url }, async () => {
        log.push('body');
        return 'posted';
      });
      await startAnnounced;
      // Held: the body has not run, however long the hook takes (within the attempt's bound).
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(log, ['announced start']);
      release();
      assert.equal(await result, 'posted');
      assert.deepEqual(log, ['announced start', 'body', 'announced end']);
      assert.deepEqual(seen[0], {
        phase: 'start',
        workflowId: 'wf-1',
        activityId: '7',
        activityType: 'postTimelineEntry',
        attempt: 1,
      });
      assert.equal(seen[1]?.phase, 'end');
      assert.equal(hook.announcements, 2);
    } finally {
      await hook.close();
    }
  });

  test('a body that throws still announces its end, and the error goes on to the worker', async () => {
    const hook = await ActivityHook.listen();
    try {
      const phases: string[] = [];
      hook.on((a) => void phases.push(a.phase));
      await assert.rejects(
        attempt({ [ACTIVITY_HOOK_ENV]: hook.url }, async () => {
          throw new Error('Slack said no');
        }),
        /Slack said no/,
      );
      assert.deepEqual(phases, ['start', 'end']);
    } finally {
      await hook.close();
    }
  });

  test('a hook that never answers, or is gone, lets the attempt go on', async () => {
    const hook = await ActivityHook.listen();
    const url = hook.url;
    hook.on(() => new Promise<void>(() => undefined));
    const t0 = Date.now();
    assert.equal(await attempt({ [ACTIVITY_HOOK_ENV]: url }, async () => 'done', 300), 'done');
    assert.ok(Date.now() - t0 >= 2 * 300 - 50, 'waited for each answer up to its bound');
    await hook.close();
    assert.equal(await attempt({ [ACTIVITY_HOOK_ENV]: url }, async () => 'done anyway', 300), 'done anyway');
  });
});
