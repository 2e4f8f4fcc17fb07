/**
 * A runbook test scenario (`firebreak runbooks test FILE --scenario SCENARIO.yaml`): what the fake
 * activities answer (health, rollout, pods, PromQL values, the deployments' settings), the gate
 * decisions in the order the gates open, whether to resolve the incident at the end, and the
 * expectations on the outcome. Pure code: the schema and the judging of what a run observed;
 * worker/runbook-test.ts runs it on Temporal.
 */
import { z } from 'zod';
import { parse as parseYaml, LineCounter, parseDocument } from 'yaml';
import { parseDuration } from '../../common/duration';
import { parseTarget } from '../../common/ids';
import { SEVERITIES, type IncidentRecord } from '../../common/types';

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a duration (use e.g. 30s, 2m): ${value}` });
    return z.NEVER;
  }
  return ms;
});

const target = z.string().refine((text) => parseTarget(text) !== undefined, 'a target is <namespace>/<deployment>');

const decisionSchema = z.strictObject({
  gate: z.string().min(1).describe('The gate name (the step id in kebab-case, e.g. approve-restart)'),
  decision: z.enum(['approve', 'reject']).default('approve'),
  /** A person's name; two names are two people (four-eyes, quorum). */
  by: z
    .string()
    .regex(/^[\w.@-]+$/, 'a user name')
    .default('approver'),
  choice: z.string().optional(),
  comment: z.string().optional(),
  /** The decision must be refused (a second approval by the same person, say). */
  refused: z.boolean().default(false),
});

const fakeDeployment = z.strictObject({
  replicas: z.number().int().min(0).optional(),
  env: z.record(z.string(), z.string()).optional(),
  limits: z.record(z.string(), z.string()).optional(),
});

export const scenarioSchema = z.strictObject({
  name: z.string().optional(),
  targets: z.array(target).min(1).default(['default/app']),
  params: z.record(z.string(), z.unknown()).default({}),
  severity: z.enum(SEVERITIES).optional(),
  /** Who starts the incident (a CLI user): four-eyes gates refuse this person's approval. */
  startedBy: z
    .string()
    .regex(/^[\w.@-]+$/)
    .default('starter'),
  /** What the fake activities answer. */
  world: z
    .strictObject({
      /** Health-check answers in order; the last repeats. */
      health: z.array(z.boolean()).min(1).optional(),
      rolloutComplete: z.boolean().optional(),
      podsRunning: z.boolean().optional(),
      /** false: Prometheus is not configured (PromQL steps end `unavailable`). */
      prometheus: z.boolean().optional(),
      /** Each PromQL query's series values; a query not listed has no data. */
      promql: z.record(z.string(), z.array(z.number())).optional(),
      collectorSendFailedSpans: z.number().int().min(0).optional(),
      /** The deployments' replicas, the app container's env and limits, by `<namespace>/<name>`. */
      deployments: z.record(target, fakeDeployment).optional(),
    })
    .default({}),
  decisions: z.array(decisionSchema).default([]),
  /** Resolve the incident once the runbook has ended (mitigations are then restored; decide `restore`). */
  resolve: z.boolean().default(false),
  /** Real time the run may take (the local dev server does not skip time). */
  timeout: duration.default(120_000),
  expect: z
    .strictObject({
      status: z.enum(['open', 'acknowledged', 'mitigated', 'resolved', 'failed', 'cancelled']).optional(),
      /**
       * The runbook failed (`end: { status: failed }`, a rejected required gate, a failed change):
       * the incident escalates and stays open for people; false: it did not fail.
       */
      failed: z.boolean().optional(),
      /** Texts each in some timeline entry. */
      timeline: z.array(z.string().min(1)).optional(),
      /** Texts in no timeline entry. */
      notTimeline: z.array(z.string().min(1)).optional(),
      /** The cluster changes, in order, as activity names (rolloutRestart, scaleDeployment, …). */
      changes: z.array(z.string()).optional(),
      /** Gate name → its final status. */
      gates: z.record(z.string(), z.enum(['pending', 'approved', 'rejected', 'timed_out'])).optional(),
      mitigations: z.number().int().min(0).optional(),
      /** Every temporary mitigation restored by the end. */
      restored: z.boolean().optional(),
      /** The run ends with this gate waiting (the scenario decides nothing there). */
      waitsAt: z.string().optional(),
    })
    .default({}),
});

export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioDecision = Scenario['decisions'][number];

/** A scenario file's problems as `file:line: path: message`, or the scenario. */
export function parseScenarioText(
  text: string,
  file: string,
): { scenario: Scenario; problems?: undefined } | { scenario?: undefined; problems: string[] } {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter });
  if (document.errors.length > 0) {
    return {
      problems: document.errors.map((err) => {
        const at = err.linePos?.[0];
        return `${file}:${at?.line ?? 1}: not valid YAML: ${err.message.split('\n')[0]}`;
      }),
    };
  }
  const result = scenarioSchema.safeParse(parseYaml(text) ?? {});
  if (result.success) return { scenario: result.data };
  // In the file's order, as the runbook validator reports.
  const located = result.error.issues.map((issue) => {
    const node = document.getIn(issue.path as (string | number)[], true) as { range?: [number, number] } | undefined;
    const line = node?.range ? lineCounter.linePos(node.range[0]).line : 1;
    return { line, text: `${file}:${line}: ${issue.path.join('.') || '(root)'}: ${issue.message}` };
  });
  return { problems: located.sort((a, b) => a.line - b.line).map((problem) => problem.text) };
}

export interface ScenarioRun {
  file: string;
  scenario: Scenario;
}

export interface ScenarioReport {
  file: string;
  name: string;
  /** What happened, in order: decisions and their answers, the resolution, the stop. */
  steps: string[];
  results: ExpectationResult[];
  /** The run itself failed (timed out, a gate nobody decides, a refusal the scenario did not expect). */
  error?: string;
}

/** What a run saw, for the expectations. */
export interface ScenarioObservation {
  record: IncidentRecord;
  /** Cluster changes made (dry runs excluded), in order. */
  changes: string[];
  /** The gate that was waiting when the run stopped, if any. */
  waitingAt?: string;
}

export interface ExpectationResult {
  ok: boolean;
  /** What was expected, in words. */
  expectation: string;
  /** What was seen, when it differs. */
  got?: string;
}

/** Every expectation of the scenario against what the run saw, in the order the scenario lists them. */
export function judgeScenario(expect: Scenario['expect'], seen: ScenarioObservation): ExpectationResult[] {
  const results: ExpectationResult[] = [];
  const check = (expectation: string, ok: boolean, got: string) =>
    results.push(ok ? { ok, expectation } : { ok, expectation, got });
  const { record } = seen;
  const timeline = record.timeline.map((entry) => entry.message);
  if (expect.status !== undefined)
    check(`status is ${expect.status}`, record.status === expect.status, `status ${record.status}`);
  if (expect.failed !== undefined) {
    check(
      expect.failed ? 'the runbook failed' : 'the runbook did not fail',
      (record.failure !== undefined) === expect.failed,
      record.failure ? `failed: ${record.failure.message}` : 'it did not fail',
    );
  }
  for (const text of expect.timeline ?? [])
    check(
      `timeline says "${text}"`,
      timeline.some((m) => m.includes(text)),
      'no timeline entry says it',
    );
  for (const text of expect.notTimeline ?? []) {
    const found = timeline.find((m) => m.includes(text));
    check(`timeline never says "${text}"`, found === undefined, `"${found}"`);
  }
  if (expect.changes !== undefined) {
    const same = expect.changes.length === seen.changes.length && expect.changes.every((c, i) => c === seen.changes[i]);
    check(`cluster changes are [${expect.changes.join(', ')}]`, same, `[${seen.changes.join(', ')}]`);
  }
  for (const [name, status] of Object.entries(expect.gates ?? {})) {
    const gate = record.gates.find((g) => g.name === name);
    check(`gate ${name} is ${status}`, gate?.status === status, gate ? gate.status : 'never opened');
  }
  if (expect.mitigations !== undefined) {
    check(
      `${expect.mitigations} temporary mitigation${expect.mitigations === 1 ? '' : 's'}`,
      record.mitigations.length === expect.mitigations,
      String(record.mitigations.length),
    );
  }
  if (expect.restored !== undefined) {
    const restored = record.mitigations.filter((m) => m.restoredAt).length;
    check(
      expect.restored ? 'every mitigation restored' : 'mitigations left in place',
      expect.restored ? restored === record.mitigations.length : restored === 0,
      `${restored} of ${record.mitigations.length} restored`,
    );
  }
  if (expect.waitsAt !== undefined) {
    check(
      `waits at gate ${expect.waitsAt}`,
      seen.waitingAt === expect.waitsAt,
      seen.waitingAt ? `waits at ${seen.waitingAt}` : 'waits at no gate',
    );
  }
  return results;
}
