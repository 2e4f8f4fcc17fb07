/**
 * The access rules as pure functions: subjects, people, start scopes, gate rules, the decide
 * validator's quorum and identity checks, the config's validation, and the CLI's proven identity.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { apiKeySubject, certificateSubject } from '../client/identity';
import { checkConfigRunbooks } from '../client/runbook-files';
import { ErrorType } from '../common/errors';
import type { GateState, IncidentRecord } from '../common/types';
import { openAccessWarning } from '../config/access';
import { ConfigError } from '../config/env';
import { parseFileConfig, incidentPolicy } from '../config/file';
import { actorMatches, gateRule, globMatches, mayAct, mayStart, personOf } from '../domain/access';
import { checkDecision } from '../domain/gates';

const CONFIG = `
people:
  alice: { slack: U0ALICE, cli: alice }
  bob: { slack: U0BOB, cli: bob }
permissions:
  start:
    - runbooks: [emergency-rollback]
      namespaces: ['prod-*']
      who: [S0LEADS]
    - namespaces: [shop, 'staging-*']
      who: ['*']
    - who: ['route:oom-kills', alice]
      runbooks: [oom-triage]
  approve:
    - gates: [confirm-rollback]
      namespaces: ['prod-*']
      who: [S0LEADS, alice, bob]
      quorum: 2
  resolve: [alice]
  cli: { requireProvenIdentity: true }
`;
const access = incidentPolicy(parseFileConfig(CONFIG)).access!;
const open = { users: [], groups: [] };

function refusedAs(type: string) {
  return (err: unknown) => err instanceof ApplicationFailure && err.type === type;
}

function gateRecord(gate: Partial<GateState>): IncidentRecord {
  const full: GateState = {
    name: 'confirm-rollback',
    prompt: 'roll back?',
    status: 'pending',
    requestedAt: '2026-01-01T00:00:00Z',
    deadline: '2026-01-01T00:30:00Z',
    fourEyes: true,
    ...gate,
  };
  return { gates: [full] } as unknown as IncidentRecord;
}

describe('subjects and scopes', () => {
  test('globs, people and groups', () => {
    assert.ok(globMatches('prod-*', 'prod-eu'));
    assert.ok(!globMatches('prod-*', 'preprod-eu'));
    assert.ok(!globMatches('shop', 'shop2'));
    assert.equal(personOf('U0ALICE', access.people), 'person:alice');
    assert.equal(personOf('cli:alice', access.people), 'person:alice');
    assert.equal(personOf('cli:mallory', access.people), 'cli:mallory');
    assert.ok(actorMatches({ id: 'cli:alice' }, ['alice'], access.people));
    assert.ok(!actorMatches({ id: 'cli:mallory' }, ['alice'], access.people));
    assert.ok(actorMatches({ id: 'U0X', groups: ['S0LEADS'] }, ['S0LEADS'], access.people));
    assert.ok(!actorMatches({ id: 'U0X', groups: ['S0OTHER'] }, ['S0LEADS'], access.people));
  });

  test('start: every namespace must be allowed; alert routes are subjects', () => {
    const lead = { id: 'U0LEAD', groups: ['S0LEADS'] };
    assert.ok(mayStart(access, lead, { runbook: 'emergency-rollback', namespaces: ['prod-eu'] }));
    assert.ok(!mayStart(access, { id: 'U0X' }, { runbook: 'emergency-rollback', namespaces: ['prod-eu'] }));
    assert.ok(mayStart(access, { id: 'U0X' }, { runbook: 'emergency-rollback', namespaces: ['shop'] }));
    assert.ok(!mayStart(access, { id: 'U0X' }, { runbook: 'p0-response', namespaces: ['shop', 'payments'] }));
    assert.ok(mayStart(access, { id: 'route:oom-kills' }, { runbook: 'oom-triage', namespaces: ['payments'] }));
    assert.ok(!mayStart(access, { id: 'route:other' }, { runbook: 'oom-triage', namespaces: ['payments'] }));
    assert.ok(mayStart(undefined, { id: 'anyone' }, { runbook: 'p0-response', namespaces: ['x'] }), 'open by default');
    assert.ok(mayAct(access, 'resolve', { id: 'U0ALICE' }));
    assert.ok(!mayAct(access, 'resolve', { id: 'U0BOB' }));
    assert.ok(mayAct(access, 'acknowledge', { id: 'U0BOB' }), 'an action not configured stays open');
  });

  test('gate rules match gate, runbook and namespaces', () => {
    const scope = { runbook: 'emergency-rollback', namespaces: ['prod-eu'] };
    assert.equal(gateRule(access, 'confirm-rollback', scope)?.quorum, 2);
    assert.equal(gateRule(access, 'confirm-rollback', { ...scope, namespaces: ['shop'] }), undefined);
    assert.equal(gateRule(access, 'restore', scope), undefined);
  });
});

describe('deciding a quorum gate', () => {
  const record = gateRecord({ quorum: 2, approvers: ['S0LEADS', 'alice', 'bob'], approvals: [] });
  const requester = { id: 'U0BOB' };

  test('the requester never counts, by any of their accounts', () => {
    assert.throws(
      () =>
        checkDecision(
          record,
          { decision: 'approve', actor: { id: 'cli:bob', proof: 'mtls' } },
          open,
          requester,
          access,
        ),
      refusedAs(ErrorType.SELF_APPROVAL),
    );
  });

  test('one person counts once, whichever account approves again', () => {
    const once = gateRecord({
      quorum: 2,
      approvers: ['alice', 'bob', 'S0LEADS'],
      approvals: [{ actor: { id: 'U0ALICE' }, at: '2026-01-01T00:01:00Z' }],
    });
    assert.throws(
      () =>
        checkDecision(
          once,
          { decision: 'approve', actor: { id: 'cli:alice', proof: 'mtls' } },
          open,
          undefined,
          access,
        ),
      refusedAs(ErrorType.ALREADY_APPROVED),
    );
    const lead = { id: 'U0CAROL', groups: ['S0LEADS'] };
    assert.equal(
      checkDecision(once, { decision: 'approve', actor: lead }, open, undefined, access).name,
      'confirm-rollback',
    );
  });

  test('outside the gate group → unauthorized; a self-declared CLI identity → refused under the strict policy', () => {
    assert.throws(
      () => checkDecision(record, { decision: 'approve', actor: { id: 'U0MALLORY' } }, open, undefined, access),
      refusedAs(ErrorType.UNAUTHORIZED),
    );
    assert.throws(
      () => checkDecision(record, { decision: 'reject', actor: { id: 'cli:alice' } }, open, undefined, access),
      (err) => refusedAs(ErrorType.UNAUTHORIZED)(err) && /self-declared/.test((err as Error).message),
    );
    const proven = { id: 'cli:alice', proof: 'mtls' as const };
    assert.equal(
      checkDecision(record, { decision: 'reject', actor: proven }, open, undefined, access).status,
      'pending',
    );
  });
});

describe('config', () => {
  test('a subject naming nobody, or a quorum larger than its group, fails the load with its path', () => {
    assert.throws(
      () => parseFileConfig('permissions:\n  resolve: [alicia]\n'),
      (err) =>
        err instanceof ConfigError && /permissions\.resolve\.0: alicia is not a person of `people`/.test(err.message),
    );
    assert.throws(
      () => parseFileConfig('people: { alice: {} }\npermissions:\n  approve:\n    - { who: [alice], quorum: 2 }\n'),
      (err) => err instanceof ConfigError && /permissions\.approve\.0\.quorum/.test(err.message),
    );
    // Runbook names are checked once the runbook files have loaded (start-up, doctor).
    const unknown = parseFileConfig('permissions:\n  start:\n    - { who: [U0X], runbooks: [nope] }\n');
    assert.throws(
      () => checkConfigRunbooks(unknown, {}),
      (err) =>
        err instanceof ConfigError && /permissions\.start\.0\.runbooks\.0: unknown runbook "nope"/.test(err.message),
    );
  });

  test('start-up warns once about what nobody restricted', () => {
    assert.match(openAccessWarning(undefined, 0)!, /No permissions configured/);
    assert.equal(
      openAccessWarning(parseFileConfig(CONFIG).permissions, 0),
      'permissions leave open to anyone: acknowledge, cancel',
    );
  });
});

describe('the CLI identity the connection proves', () => {
  test('the CN of the client certificate; the subject of a JWT API key; nothing from an opaque key', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'firebreak-cert-'));
    try {
      const cert = path.join(dir, 'cert.pem');
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/O=Firebreak/CN=alice',
          '-keyout',
          path.join(dir, 'key.pem'),
          '-out',
          cert,
        ],
        { stdio: 'ignore' },
      );
      assert.equal(certificateSubject(readFileSync(cert)), 'alice');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(certificateSubject('not a certificate'), undefined);
    const claims = Buffer.from(JSON.stringify({ sub: 'bob@example.com' })).toString('base64url');
    assert.equal(apiKeySubject(`eyJhbGciOiJFUzI1NiJ9.${claims}.c2ln`), 'bob@example.com');
    assert.equal(apiKeySubject('opaque-key'), undefined);
  });
});
