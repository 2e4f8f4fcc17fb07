/**
 * The runbook catalog and the kernel's pure rules: registry validation, parameter schemas at the
 * edge (prepareIncident), gate authorization, alert folding and the memory raise policy.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { DEFAULT_POLICY } from '../common/incident';
import type { GateState, IncidentRecord } from '../common/types';
import { RUNBOOKS, findRunbook, prepareIncident, runbooksForAlert, validateCatalog } from '../runbooks';
import * as workflows from '../workflows';
import { nextMemoryLimit, parseMemory } from '../domain/quantity';
import { checkDecision } from '../domain/gates';
import { foldAlerts } from '../domain/alerts';
import { alertsAllResolved } from '../domain/record';

const target = { namespace: 'shop', deployment: 'checkout' };
const base = { targets: [target], trigger: { kind: 'cli' as const, user: 'cli:alice' }, policy: DEFAULT_POLICY };
const invalid = (pattern: RegExp) => (err: unknown) =>
  err instanceof ApplicationFailure && err.type === 'INVALID_INPUT' && pattern.test(err.message);

describe('catalog', () => {
  test('every runbook is registered once, with its workflow exported under its permanent type', () => {
    assert.deepEqual(
      RUNBOOKS.map((r) => r.id),
      ['p0-response', 'emergency-rollback', 'avalanche-mitigation', 'oom-triage'],
    );
    for (const runbook of RUNBOOKS)
      assert.equal(typeof (workflows as Record<string, unknown>)[runbook.workflowType], 'function');
    assert.equal(findRunbook('oom')?.id, 'oom-triage');
    assert.equal(findRunbook('rollback')?.id, 'emergency-rollback');
  });

  test('a bad entry fails loudly at load', () => {
    const [p0, rollback, avalanche, oom] = RUNBOOKS as [never, never, never, never];
    assert.throws(() => validateCatalog([p0, rollback, avalanche]), /no entry for oom-triage/);
    assert.throws(() => validateCatalog([p0, p0, avalanche, oom]), /duplicate id/);
    assert.throws(
      () => validateCatalog([p0, rollback, avalanche, { ...(oom as object), workflowType: 'oom' } as never]),
      /bad workflowType/,
    );
    assert.throws(
      () =>
        validateCatalog([p0, rollback, avalanche, { ...(oom as object), alertHints: { alertnames: ['(['] } } as never]),
      /not a regular expression/,
    );
  });

  test('alert hints route alerts to runbooks, labels breaking ties', () => {
    assert.equal(runbooksForAlert({ alertname: 'KubePodOOMKilled' })[0]?.id, 'oom-triage');
    assert.equal(runbooksForAlert({ alertname: 'ServiceDown', severity: 'critical' })[0]?.id, 'p0-response');
    assert.deepEqual(runbooksForAlert({ alertname: 'DiskAlmostFull' }), []);
  });
});

describe('prepareIncident', () => {
  test('parses parameters with the runbook schema, applies defaults, keys the workflow by target', () => {
    const prepared = prepareIncident({
      ...base,
      runbook: 'avalanche',
      targets: [target, { namespace: 'shop', deployment: 'cart' }],
      params: { replicas: '30' },
      now: new Date('2026-11-21T05:12:33Z'),
    });
    assert.equal(prepared.workflowId, 'incident:avalanche-mitigation:shop/checkout');
    assert.equal(prepared.workflowType, 'avalancheMitigationWorkflow');
    assert.match(prepared.input.incidentId, /^INC-20261121-051233-avalanche-checkout-[0-9a-f]{4}$/);
    assert.equal(prepared.input.severity, 'P0');
    assert.deepEqual(prepared.input.params, { replicas: 30, samplerRatio: 0.001, rootCauseWindowSeconds: 1800 });
    assert.equal(prepared.input.title, 'Service avalanche mitigation: shop/checkout and 1 more');
    assert.deepEqual(
      prepared.searchAttributes.map((pair) => [pair.key.name, pair.value]),
      [
        ['FirebreakRunbook', 'avalanche-mitigation'],
        ['FirebreakSeverity', 'P0'],
        ['FirebreakStatus', 'open'],
        ['FirebreakTarget', ['shop/checkout', 'shop/cart']],
        ['FirebreakIncidentId', prepared.input.incidentId],
      ],
    );
  });

  test('alerts are keyed by receiver and group, not by target', () => {
    const prepared = prepareIncident({
      ...base,
      runbook: 'oom-triage',
      params: {},
      trigger: { kind: 'alert', source: 'alertmanager', receiver: 'web\\.hook', groupKey: '{}:{alertname="OOM"}' },
    });
    assert.match(prepared.workflowId, /^alert:alertmanager:[0-9a-f]{16}$/);
    assert.equal(prepared.input.triggeredBy, undefined);
  });

  test('human-chosen parameters are validated before anything starts', () => {
    assert.throws(
      () => prepareIncident({ ...base, runbook: 'rollback', params: { revision: 'abc' } }),
      invalid(/revision/),
    );
    assert.throws(
      () => prepareIncident({ ...base, runbook: 'rollback', params: { revision: 0 } }),
      invalid(/revision/),
    );
    assert.throws(
      () => prepareIncident({ ...base, runbook: 'avalanche', params: { replicas: 500 } }),
      invalid(/replicas/),
    );
    assert.throws(
      () => prepareIncident({ ...base, runbook: 'avalanche', params: { samplerRatio: 0 } }),
      invalid(/samplerRatio/),
    );
    assert.throws(() => prepareIncident({ ...base, runbook: 'avalanche', params: { replica: 5 } }), invalid(/replica/));
    assert.throws(
      () => prepareIncident({ ...base, runbook: 'oom', params: { memoryCap: 'lots' } }),
      invalid(/memoryCap/),
    );
    assert.throws(
      () => prepareIncident({ ...base, runbook: 'oom', params: { memoryLimit: '16Gi', memoryCap: '8Gi' } }),
      invalid(/must not exceed memoryCap/),
    );
    assert.throws(
      () => prepareIncident({ ...base, runbook: 'oom', params: { heapProfile: 'maybe' } }),
      invalid(/heapProfile/),
    );
    assert.throws(
      () => prepareIncident({ ...base, runbook: 'p0', params: { healthUrl: 'ftp://x' } }),
      invalid(/healthUrl/),
    );
    // Whoever may start a runbook must not be able to point the worker at the node's credentials.
    for (const healthUrl of ['http://169.254.169.254/latest/meta-data/', 'http://metadata.google.internal/']) {
      for (const runbook of ['p0', 'rollback']) {
        assert.throws(
          () => prepareIncident({ ...base, runbook, params: { healthUrl } }),
          invalid(/may not reach this host[\s\S]*healthUrl/),
          `${runbook} ${healthUrl}`,
        );
      }
    }
    assert.doesNotThrow(() =>
      prepareIncident({ ...base, runbook: 'p0', params: { healthUrl: 'http://checkout.shop.svc:8080/healthz' } }),
    );
    assert.throws(
      () => prepareIncident({ ...base, runbook: 'p0', targets: [target, target], params: {} }),
      invalid(/one deployment/),
    );
    assert.throws(() => prepareIncident({ ...base, runbook: 'nope', params: {} }), invalid(/unknown runbook/));
    const oom = prepareIncident({ ...base, runbook: 'oom', params: { heapProfile: 'false', memoryPolicy: 'double' } });
    assert.equal(oom.input.params.heapProfile, false);
  });
});

function record(gates: GateState[]): IncidentRecord {
  return {
    id: 'INC-1',
    runbook: 'emergency-rollback',
    title: 't',
    target,
    targets: [target],
    severity: 'P1',
    status: 'open',
    trigger: { kind: 'cli', user: 'cli:alice' },
    openedAt: '2026-01-01T00:00:00Z',
    escalationTier: 0,
    gates,
    mitigations: [],
    alerts: [],
    alertsPartial: false,
    timeline: [],
  };
}

function gate(overrides: Partial<GateState> = {}): GateState {
  return {
    name: 'confirm-rollback',
    prompt: 'sure?',
    status: 'pending',
    requestedAt: '2026-01-01T00:00:00Z',
    deadline: '2026-01-01T00:30:00Z',
    fourEyes: true,
    ...overrides,
  };
}

describe('gate rules', () => {
  const approvers = { users: ['U0BOB'], groups: ['S0SRE'] };
  const alice = { id: 'U0ALICE', groups: ['S0SRE'] };
  const refused = (type: string) => (err: unknown) => err instanceof ApplicationFailure && err.type === type;

  test('authorization, four-eyes, closed and unknown gates, choices', () => {
    const r = record([gate()]);
    const approve = (actor: { id: string; groups?: string[] }, extra = {}) =>
      checkDecision(r, { decision: 'approve', actor, ...extra }, approvers, alice);
    assert.equal(approve({ id: 'U0BOB' }).name, 'confirm-rollback');
    assert.equal(approve({ id: 'U0CAROL', groups: ['S0SRE'] }).name, 'confirm-rollback');
    assert.throws(() => approve({ id: 'U0MALLORY' }), refused('UNAUTHORIZED'));
    assert.throws(() => approve(alice), refused('SELF_APPROVAL'));
    assert.doesNotThrow(() => checkDecision(r, { decision: 'reject', actor: alice }, approvers, alice));
    assert.doesNotThrow(() =>
      checkDecision(record([gate({ fourEyes: false })]), { decision: 'approve', actor: alice }, approvers, alice),
    );
    assert.doesNotThrow(() =>
      checkDecision(r, { decision: 'approve', actor: { id: 'anyone' } }, { users: [], groups: [] }, alice),
    );
    assert.throws(() => approve({ id: 'U0BOB' }, { gate: 'other' }), refused('UNKNOWN_GATE'));
    assert.throws(() => approve({ id: 'U0BOB' }, { choice: '2' }), refused('INVALID_INPUT'));
    const decided = record([gate({ status: 'approved' })]);
    assert.throws(
      () =>
        checkDecision(
          decided,
          { gate: 'confirm-rollback', decision: 'approve', actor: { id: 'U0BOB' } },
          approvers,
          alice,
        ),
      refused('GATE_CLOSED'),
    );
    assert.throws(
      () => checkDecision(decided, { decision: 'approve', actor: { id: 'U0BOB' } }, approvers, alice),
      refused('GATE_CLOSED'),
    );
    const choices = record([gate({ choices: ['2', '1'] })]);
    assert.throws(
      () => checkDecision(choices, { decision: 'approve', actor: { id: 'U0BOB' } }, approvers, alice),
      refused('INVALID_INPUT'),
    );
    assert.equal(
      checkDecision(choices, { decision: 'approve', actor: { id: 'U0BOB' }, choice: '1' }, approvers, alice).name,
      'confirm-rollback',
    );
    const two = record([gate(), gate({ name: 'restore' })]);
    assert.throws(
      () => checkDecision(two, { decision: 'approve', actor: { id: 'U0BOB' } }, approvers, alice),
      refused('INVALID_INPUT'),
    );
  });

  test('alerts: per-fingerprint state; a partial view never concludes "all resolved"', () => {
    const r = record([]);
    const alert = (fingerprint: string, status: 'firing' | 'resolved') => ({
      fingerprint,
      status,
      labels: { alertname: 'X' },
      annotations: {},
    });
    const notify = (alerts: ReturnType<typeof alert>[], truncatedAlerts = 0) => {
      return foldAlerts(
        r,
        {
          source: 'alertmanager',
          receiver: 'r',
          groupKey: 'g',
          status: 'firing',
          truncatedAlerts,
          alerts,
          receivedAt: 'now',
        },
        'now',
      ).changed;
    };
    assert.equal(notify([alert('a', 'firing'), alert('b', 'firing')]).length, 2);
    assert.equal(notify([alert('a', 'firing')]).length, 0, 'no change, no timeline entry');
    notify([alert('a', 'resolved'), alert('b', 'resolved')], 3);
    assert.equal(alertsAllResolved(r), false);
    notify([alert('a', 'resolved'), alert('b', 'resolved')]);
    assert.equal(alertsAllResolved(r), true);
    assert.equal(alertsAllResolved(record([])), false, 'no alerts is not "all resolved"');
  });
});

describe('memory raise policy', () => {
  const fixed = { mode: 'fixed' as const, limit: '2Gi', cap: '8Gi' };
  const double = { mode: 'double' as const, limit: '2Gi', cap: '3Gi' };
  test('quantities', () => {
    assert.equal(parseMemory('512Mi'), 512 * 1024 ** 2);
    assert.equal(parseMemory('1G'), 1e9);
    assert.equal(parseMemory('2Gi'), 2 * 1024 ** 3);
    assert.equal(parseMemory('lots'), undefined);
    assert.equal(parseMemory('-1Gi'), undefined);
  });
  test('fixed raises to 2Gi, never lowers; double is capped and needs a limit', () => {
    assert.deepEqual(nextMemoryLimit('1Gi', fixed), { limit: '2Gi' });
    assert.deepEqual(nextMemoryLimit(null, fixed), { limit: '2Gi' });
    assert.ok('skip' in nextMemoryLimit('2Gi', fixed));
    assert.ok('skip' in nextMemoryLimit('4Gi', fixed));
    assert.deepEqual(nextMemoryLimit('512Mi', double), { limit: '1Gi' });
    assert.deepEqual(nextMemoryLimit('2Gi', double), { limit: '3Gi' });
    assert.ok('skip' in nextMemoryLimit('3Gi', double), 'at the cap: no further raise');
    assert.ok('skip' in nextMemoryLimit(null, double));
    assert.deepEqual(nextMemoryLimit('1000M', { ...double, cap: '8Gi' }), { limit: '1908Mi' });
  });
});
