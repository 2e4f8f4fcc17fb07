/**
 * The chaos sweep on the real engine (test/chaos/sweep.ts). By default the CI subset: per runbook a
 * clean run and a few kill points of different kinds. `npm run chaos` sets FIREBREAK_CHAOS=full and
 * kills at every boundary of the clean run; FIREBREAK_CHAOS_RUNBOOKS=<id,...> narrows the runbooks.
 * Each runbook's figures (boundaries, kills, duplicates, minutes) are printed as a diagnostic and,
 * with FIREBREAK_CHAOS_REPORT=<file>, appended to that file as JSON lines.
 */
import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { BOB, SKIP_WITHOUT_E2E_BED, World } from '../e2e/harness';
import { SCENARIOS } from './scenarios';
import {
  ciSubset,
  compare,
  duplicates,
  lostThreadPosts,
  repeatedThreadPosts,
  runScenario,
  type Boundary,
} from './sweep';

const FULL = process.env.FIREBREAK_CHAOS === 'full';
const ONLY = process.env.FIREBREAK_CHAOS_RUNBOOKS?.split(',').map((s) => s.trim());
const REPORT = process.env.FIREBREAK_CHAOS_REPORT;
/** A slice of each runbook's kill points (FIREBREAK_CHAOS_FROM, FIREBREAK_CHAOS_LIMIT), to split a long sweep. */
const FROM = Number(process.env.FIREBREAK_CHAOS_FROM ?? 0);
const LIMIT = Number(process.env.FIREBREAK_CHAOS_LIMIT ?? Infinity);
/**
 * The boundaries in an order that covers the whole incident early (golden-ratio stride), so a
 * sweep cut short by FIREBREAK_CHAOS_LIMIT still samples every phase.
 */
function spread(boundaries: Boundary[]): Boundary[] {
  return boundaries
    .map((boundary, i) => ({ boundary, rank: (i * 0.6180339887) % 1 }))
    .sort((a, b) => a.rank - b.rank)
    .map((x) => x.boundary);
}

/**
 * Kill points where the sweep found a defect, kept as regression cases: the CI subset always runs
 * them (where the runbook's history has them), as ordinary kill points that fail on any difference.
 * p0-response: killed while the first card post was in flight (the hold claim is scheduled beside
 * it), the retried post put a second card in the channel; fixed by the card's message metadata and
 * a look at the channel's history before a retried first post (activities/slack.ts).
 */
/** An open finding that covers the whole runbook: the CI subset skips it, naming the finding. */
const ALL_POINTS = '*';

const REGRESSION_POINTS: Record<string, string[]> = {
  'p0-response': ['scheduled:requestHold#1'],
};

/**
 * Kill points that showed a difference from the clean run and are not fixed yet
 * (docs/reliability.md, "Open findings"). `npm run chaos` sweeps them with every other boundary;
 * the CI subset leaves them out until they are fixed, then they move to REGRESSION_POINTS.
 */
const OPEN_FINDINGS: Record<string, string[]> = {
  // Every kill point tried after the first mitigation differs (one pod template change too many).
  'avalanche-mitigation': [ALL_POINTS],
  'oom-triage': ['started:setDeploymentEnv#2'],
};

const scenarios = SCENARIOS.filter((s) => !ONLY || ONLY.includes(s.runbook));

describe('chaos sweep: the worker SIGKILLed at history boundaries', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  let world: World;

  before(async () => {
    world = await World.create({
      name: 'chaos',
      approvers: { users: [BOB.id, 'cli:carol'] },
      policy: { restoreAfter: '600s', verifyWindow: '2s' },
    });
  });

  after(async () => {
    await world?.close();
  });

  for (const scenario of scenarios) {
    test(`${scenario.runbook} (${scenario.trigger}): every kill point survives, nothing doubled`, async (t) => {
      if (!FULL && OPEN_FINDINGS[scenario.runbook]?.includes(ALL_POINTS)) {
        t.skip(`open finding for the whole runbook (docs/reliability.md); \`npm run chaos\` sweeps it`);
        return;
      }
      const t0 = Date.now();
      const clean = await runScenario(world, scenario);
      const boundaries = clean.observation.boundaries;
      assert.ok(boundaries.length > 0, 'the clean run has boundaries');
      assert.equal(clean.observation.postmortem.status, 'resolved', 'the clean run ends resolved');
      const regressions = boundaries.filter((b) => REGRESSION_POINTS[scenario.runbook]?.includes(b.key));
      const chosen = FULL
        ? spread(boundaries)
        : [...ciSubset(boundaries, OPEN_FINDINGS[scenario.runbook]), ...regressions];
      const targets: Boundary[] = [...new Map(chosen.map((b) => [b.key, b])).values()].slice(FROM, FROM + LIMIT);
      t.diagnostic(
        `clean run ${(clean.ms / 1000).toFixed(1)} s, ${boundaries.length} boundaries, sweeping ${targets.length}`,
      );

      const failures: string[] = [];
      const doubled: string[] = [];
      const repeatedPosts: string[] = [];
      let killed = 0;
      let missed = 0;
      for (const boundary of targets) {
        let run;
        try {
          run = await runScenario(world, scenario, boundary);
        } catch (err) {
          const failure = `kill at ${boundary.key}: the incident did not finish: ${(err as Error).message}`;
          failures.push(failure);
          if (REPORT) await appendFile(REPORT, `${JSON.stringify({ runbook: scenario.runbook, failure })}\n`);
          continue;
        }
        if (run.killed) killed += 1;
        else missed += 1;
        const diffs = [
          ...compare(clean.observation, run.observation),
          ...lostThreadPosts(clean.observation, run.observation),
        ];
        doubled.push(...duplicates(clean.observation, run.observation).map((d) => `${boundary.key}: ${d}`));
        const repeated = repeatedThreadPosts(clean.observation, run.observation);
        repeatedPosts.push(...repeated.map((d) => `${boundary.key}: ${d}`));
        t.diagnostic(
          `${boundary.key}: ${run.killed ? 'killed' : 'not reached'} in ${(run.ms / 1000).toFixed(1)} s, ` +
            `${diffs.length === 0 ? 'same as clean' : `DIFFERS\n${diffs.join('\n')}`}` +
            `${repeated.length > 0 ? `\nthread posts repeated: ${repeated.join('; ')}` : ''}`,
        );
        if (diffs.length > 0) failures.push(`kill at ${boundary.key}:\n${diffs.join('\n')}`);
        if (REPORT) {
          const point = { runbook: scenario.runbook, boundary: boundary.key, killed: Boolean(run.killed), ms: run.ms };
          await appendFile(REPORT, `${JSON.stringify({ ...point, diffs, repeated })}\n`);
        }
      }
      const summary = {
        runbook: scenario.runbook,
        trigger: scenario.trigger,
        boundaries: boundaries.length,
        swept: targets.length,
        killed,
        missed,
        survived: killed - failures.length,
        duplicates: doubled.length,
        repeatedThreadPosts: repeatedPosts.length,
        minutes: Number(((Date.now() - t0) / 60_000).toFixed(1)),
        full: FULL,
      };
      t.diagnostic(JSON.stringify(summary));
      if (REPORT) {
        await appendFile(REPORT, `${JSON.stringify({ ...summary, failures, doubled, repeatedPosts })}\n`);
      }
      assert.deepEqual(doubled, [], `doubled effects:\n${doubled.join('\n')}`);
      assert.deepEqual(failures, [], failures.join('\n\n'));
      assert.ok(killed > 0, 'at least one kill landed');
    });
  }
});
