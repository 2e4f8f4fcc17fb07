/**
 * `firebreak runbooks test FILE --scenario SCENARIO.yaml…`: runs a runbook file on the real
 * workflow code against the typed fake activities (worker/fake-activities.ts) — no cluster, no
 * Slack, no pager — and judges each scenario's expectations (runbooks/files/scenario.ts). The
 * Temporal is TEMPORAL_ADDRESS when set, else an embedded dev server on a temporary directory, so
 * a team runs it in CI with nothing else installed. Each scenario is its own incident on its own
 * fake world; gates are decided as the scenario scripts them, in the order they open.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { DEFAULT_POLICY, type IncidentPolicy } from '../common/incident';
import { formatTarget, parseTarget } from '../common/ids';
import { CLOSED_STATUSES, type Actor, type IncidentRecord, type Target } from '../common/types';
import { createLogger } from '../config/logger';
import { cancelUpdate, decideUpdate, resolveSignal, statusQuery } from '../domain/messages';
import { prepareIncident, registerFileRunbooks } from '../runbooks';
import type { FileRunbookSource } from '../runbooks/files/schema';
import {
  judgeScenario,
  type Scenario,
  type ScenarioDecision,
  type ScenarioReport,
  type ScenarioRun,
} from '../runbooks/files/scenario';
import { loadWorkflowBundle } from './bundle';
import { startDevServer, type DevServer } from './devserver';
import { FakeWorld } from './fake-activities';
import { createSinks } from './sinks';

export interface RunbookTestOptions {
  temporalAddress?: string;
  namespace?: string;
  workflowBundle?: string;
  /** Progress lines (the dev server starting, each scenario). */
  log?: (line: string) => void;
}

const POLL_MS = 150;

/**
 * The policy a scenario runs under: the defaults, but anyone may approve and the restore gate
 * waits for a decision (or the scenario's timeout) rather than restoring on its own.
 */
function scenarioPolicy(): IncidentPolicy {
  return { ...DEFAULT_POLICY, approvers: { users: [], groups: [] }, verifyWindowMs: 1_000 };
}

const person = (name: string): Actor => ({ id: `cli:${name}`, name });

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Runs every scenario against the runbook; one Temporal and one worker for all of them. */
export async function runRunbookScenarios(
  source: FileRunbookSource,
  runs: ScenarioRun[],
  options: RunbookTestOptions = {},
): Promise<ScenarioReport[]> {
  const log = options.log ?? (() => undefined);
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Installed already (a second call in one process).
  }
  let server: DevServer | undefined;
  let dataDir: string | undefined;
  let address = options.temporalAddress;
  const namespace = options.namespace ?? 'default';
  if (!address) {
    dataDir = await mkdtemp(path.join(tmpdir(), 'firebreak-runbook-test-'));
    log('starting a local Temporal dev server…');
    const port = await freePort();
    server = await startDevServer({ dataDir, port, uiPort: await freePort(), namespace, log: () => undefined });
    address = server.address;
  }
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const client = new Client({ connection, namespace });
  const taskQueue = `runbook-test-${randomUUID().slice(0, 8)}`;
  registerFileRunbooks([source]);
  // One world per scenario; the worker's activities answer from the current one.
  const current: { value?: Current } = {};
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace,
    taskQueue,
    workflowBundle: await loadWorkflowBundle(options.workflowBundle, createLogger({ level: 'warn' })),
    activities: currentWorldActivities(current),
    sinks: createSinks(),
    shutdownGraceTime: '1 second',
  });
  const running = worker.run();
  try {
    const reports: ScenarioReport[] = [];
    for (const run of runs) {
      log(`scenario ${run.scenario.name ?? run.file}…`);
      reports.push(await runScenario(client, taskQueue, source, run, current));
    }
    return reports;
  } finally {
    worker.shutdown();
    await running.catch(() => undefined);
    await nativeConnection.close();
    await connection.close();
    registerFileRunbooks([]);
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

/** The scenario being run: scenarios run one at a time, each against its own fake world. */
interface Current {
  world: FakeWorld;
  activities: Record<string, (input: unknown) => Promise<unknown>>;
}

type ActivityMap = Record<string, (input: unknown) => Promise<unknown>>;

/** Every fake activity, each call answered by the current scenario's world. */
function currentWorldActivities(current: { value?: Current }): ActivityMap {
  const names = Object.keys(new FakeWorld().activities());
  return Object.fromEntries(
    names.map((name) => [
      name,
      (input: unknown) => {
        const fn = current.value?.activities[name];
        if (!fn) throw new Error(`activity ${name} called outside a scenario`);
        return fn(input);
      },
    ]),
  );
}

function fakeWorld(scenario: Scenario, targets: Target[]): FakeWorld {
  const given = scenario.world;
  const world = new FakeWorld({
    ...(given.health ? { health: given.health } : {}),
    ...(given.rolloutComplete !== undefined ? { rolloutComplete: given.rolloutComplete } : {}),
    ...(given.podsRunning !== undefined ? { podsRunning: given.podsRunning } : {}),
    ...(given.prometheus !== undefined ? { prometheus: given.prometheus } : {}),
    ...(given.promql ? { promql: given.promql } : {}),
    ...(given.collectorSendFailedSpans !== undefined
      ? { collectorSendFailedSpans: given.collectorSendFailedSpans }
      : {}),
  });
  for (const target of targets) world.deployment(target.namespace, target.deployment);
  for (const [name, settings] of Object.entries(given.deployments ?? {})) {
    const target = parseTarget(name)!;
    const deployment = world.deployment(target.namespace, target.deployment);
    if (settings.replicas !== undefined) deployment.replicas = settings.replicas;
    if (settings.env) deployment.env.app = { ...settings.env };
    if (settings.limits) deployment.limits.app = { ...settings.limits };
  }
  return world;
}

type IncidentHandle = WorkflowHandle<(input: unknown) => Promise<IncidentRecord>>;

async function runScenario(
  client: Client,
  taskQueue: string,
  source: FileRunbookSource,
  run: ScenarioRun,
  current: { value?: Current },
): Promise<ScenarioReport> {
  const { scenario } = run;
  const report: ScenarioReport = {
    file: run.file,
    name: scenario.name ?? path.basename(run.file),
    steps: [],
    results: [],
  };
  const targets = scenario.targets.map((text) => parseTarget(text)!);
  const starter = person(scenario.startedBy);
  let prepared;
  try {
    prepared = prepareIncident({
      runbook: source.definition.id,
      targets,
      ...(scenario.severity ? { severity: scenario.severity } : {}),
      params: scenario.params,
      trigger: { kind: 'cli', user: starter.id },
      triggeredBy: starter,
      policy: scenarioPolicy(),
    });
  } catch (err) {
    report.error = `cannot start: ${(err as Error).message}`;
    return report;
  }
  const world = fakeWorld(scenario, targets);
  current.value = { world, activities: world.activities() as unknown as ActivityMap };
  const workflowId = `${prepared.workflowId}-test-${randomUUID().slice(0, 8)}`;
  const handle: IncidentHandle = await client.workflow.start<(input: unknown) => Promise<IncidentRecord>>(
    prepared.workflowType,
    {
      taskQueue,
      workflowId,
      args: [prepared.input],
      typedSearchAttributes: prepared.searchAttributes,
      workflowExecutionTimeout: Math.ceil(scenario.timeout / 1000) + 60 + 's',
    },
  );
  let record: IncidentRecord | undefined;
  let waitingAt: string | undefined;
  try {
    ({ record, waitingAt } = await drive(handle, scenario, report));
  } catch (err) {
    report.error = (err as Error).message;
    record = await handle.query(statusQuery).catch(() => undefined);
  }
  if (record) {
    const changes = world.mutations().map((call) => call.name as string);
    report.results.push(...judgeScenario(scenario.expect, { record, changes, ...(waitingAt ? { waitingAt } : {}) }));
  }
  await closeIncident(handle, starter);
  return report;
}

/**
 * Ends a scenario's incident the way a person would: cancelled, mitigations restored at once, so
 * its deployment holds are released and the next scenario on the same target is not held up. A
 * cancel that does not finish in time is followed by a terminate.
 */
async function closeIncident(handle: IncidentHandle, actor: Actor): Promise<void> {
  const description = await handle.describe().catch(() => undefined);
  if (description?.status.name !== 'RUNNING') return;
  try {
    await handle.executeUpdate(cancelUpdate, { args: [{ actor, reason: 'runbook test over', restoreNow: true }] });
    const closed = await Promise.race([
      handle.result().then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000).unref()),
    ]);
    if (closed) return;
  } catch {
    // Refused or failed: terminate below.
  }
  await handle.terminate('runbook test over').catch(() => undefined);
}

/**
 * Polls the incident and answers it as the scenario says: each pending gate gets the next scripted
 * decision for it; when the runbook has ended, the scenario's resolution. Stops when the workflow
 * closes, when the runbook has ended and nothing more is scripted, or at a gate nobody decides.
 */
async function drive(
  handle: IncidentHandle,
  scenario: Scenario,
  report: ScenarioReport,
): Promise<{ record: IncidentRecord; waitingAt?: string }> {
  const decisions = [...scenario.decisions];
  const deadline = Date.now() + scenario.timeout;
  let resolved = false;
  let record = await handle.query(statusQuery);
  while (Date.now() < deadline) {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') {
      record = await handle.result().catch(() => record);
      report.steps.push(`incident closed: ${record.status}`);
      return { record };
    }
    record = await handle.query(statusQuery);
    const pending = record.gates.filter((gate) => gate.status === 'pending');
    const next = pending
      .map((gate) => ({ gate, index: decisions.findIndex((d) => d.gate === gate.name) }))
      .find((candidate) => candidate.index >= 0);
    if (next) {
      const [decision] = decisions.splice(next.index, 1) as [ScenarioDecision];
      await decide(handle, decision, report);
      continue;
    }
    const gate = pending[0];
    if (gate) {
      // A gate the scenario does not decide blocks the runbook: the run stops here.
      report.steps.push(`stopped: gate ${gate.name} waits and the scenario decides nothing there`);
      if (scenario.expect.waitsAt !== gate.name) {
        const unused = decisions.map((d) => d.gate).join(', ');
        report.error =
          `gate ${gate.name} waits for a decision the scenario does not give (add one, or expect waitsAt: ${gate.name})` +
          (unused ? `; decisions never used: ${unused}` : '');
      }
      return { record, waitingAt: gate.name };
    }
    if (runbookEnded(record)) {
      if (scenario.resolve && !resolved) {
        resolved = true;
        await handle.signal(resolveSignal, { actor: person(scenario.startedBy), note: 'runbook test' });
        report.steps.push('resolved');
        continue;
      }
      if (!scenario.resolve && decisions.length === 0) {
        report.steps.push(
          `runbook ended: ${record.status}${record.failure ? ` (failed: ${record.failure.message})` : ''}`,
        );
        return { record };
      }
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const unused = decisions.map((d) => d.gate).join(', ');
  throw new Error(
    `timed out after ${scenario.timeout / 1000} s at step ${record.currentStep ?? '?'} (status ${record.status})` +
      heldUp(record) +
      (unused ? `; decisions never used: ${unused}` : ''),
  );
}

/**
 * A scenario's incident claims its targets' deployment holds like any incident: on a shared Temporal
 * another incident on the same deployment makes it wait, which the timeout must name.
 */
function heldUp(record: IncidentRecord): string {
  const waiting = (record.holds ?? []).filter((hold) => hold.state === 'waiting' || hold.state === 'claimed');
  return waiting
    .map(
      (hold) =>
        `; waiting for the deployment hold on ${formatTarget(hold.target)}` +
        (hold.holder ? ` (held by incident ${hold.holder.incidentId})` : ''),
    )
    .join('');
}

/** The runbook's steps are over: it ended (mitigated or failed) and the incident waits for resolution. */
function runbookEnded(record: IncidentRecord): boolean {
  return record.status === 'mitigated' || record.failure !== undefined || CLOSED_STATUSES.includes(record.status);
}

async function decide(handle: IncidentHandle, decision: ScenarioDecision, report: ScenarioReport): Promise<void> {
  const what = `gate ${decision.gate}: ${decision.decision}${decision.choice ? ` ${decision.choice}` : ''} by ${decision.by}`;
  try {
    const gate = await handle.executeUpdate(decideUpdate, {
      args: [
        {
          gate: decision.gate,
          decision: decision.decision,
          actor: person(decision.by),
          ...(decision.choice !== undefined ? { choice: decision.choice } : {}),
          ...(decision.comment !== undefined ? { comment: decision.comment } : {}),
        },
      ],
    });
    const count = gate.quorum && gate.status === 'pending' ? ` (${gate.approvals?.length ?? 0} of ${gate.quorum})` : '';
    report.steps.push(`${what} → ${gate.status}${count}`);
    if (decision.refused) report.results.push({ ok: false, expectation: `${what} is refused`, got: 'accepted' });
  } catch (err) {
    if (!(err instanceof WorkflowUpdateFailedError)) throw err;
    const reason = err.cause?.message ?? err.message;
    report.steps.push(`${what} → refused: ${reason}`);
    if (decision.refused) report.results.push({ ok: true, expectation: `${what} is refused` });
    else throw new Error(`${what} was refused: ${reason}`, { cause: err });
  }
}
