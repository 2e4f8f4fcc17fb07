/**
 * Alert webhooks against the real dev server: routing rules, authentication, every refusal the
 * issue names (each leaving no workflow behind), deduplication onto one incident per group,
 * partial views, Grafana's signed payloads, and the 503 a Temporal outage must produce.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import { createHmac, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { alertWorkflowId } from '../common/ids';
import type { IncidentRecord } from '../common/types';
import { ConfigError } from '../config/env';
import { parseFileConfig } from '../config/file';
import { resolveConfigRunbooks } from '../config/routes';
import { checkCredentials, checkGrafanaSignature } from '../ingress/alerts/auth';
import { DEFAULT_ROUTES } from '../ingress/alerts/default-routes';
import { matchesLabel, readValue } from '../ingress/alerts/routing';
import { normaliseReceiver } from '../ingress/alerts/normalise';
import { parsePayload } from '../ingress/alerts/schemas';
import { routeAlertGroup, type RoutingTables } from '../ingress/alerts/targets';
import { statusQuery } from '../domain/messages';
import {
  alertmanagerPayload,
  eventually,
  oomAlert,
  oomRoutesYaml,
  postJson,
  startAlertRig,
  startTestIngress,
  type AlertRig,
} from './alerts-support';
import { freePort } from './bed/ports';
import { fastPolicy } from './workflows/harness';

const TOKEN = 'test-token-1';
const BASIC = 'am:secret-pass';
const HMAC_SECRET = 'grafana-hmac-secret';
const TIMESTAMP_HEADER = 'X-Grafana-Alerting-Signature-Timestamp';

describe('routing rules (pure)', () => {
  const rules = (yaml: string) => parseFileConfig(yaml).routes;
  const only = (routes: RoutingTables['rules']): RoutingTables => ({ rules: routes, defaults: [], owners: null });

  test('matchers: equality, anchored regex, negations, literal escape, missing label = ""', () => {
    const [rule] = rules(
      "routes:\n  - match: { a: 'x', b: '~web-.*', c: '!prod', d: '!~tmp.*', e: '=~lit' }\n    runbook: p0-response\n",
    );
    const m = rule!.match;
    assert.ok(matchesLabel(m.a!, 'x') && !matchesLabel(m.a!, 'xx'));
    assert.ok(matchesLabel(m.b!, 'web-1') && !matchesLabel(m.b!, 'my-web-1'), 'regexes are anchored');
    assert.ok(matchesLabel(m.c!, 'staging') && !matchesLabel(m.c!, 'prod') && matchesLabel(m.c!, undefined));
    assert.ok(matchesLabel(m.d!, 'perm') && !matchesLabel(m.d!, 'tmp1'));
    assert.ok(matchesLabel(m.e!, '~lit') && !matchesLabel(m.e!, 'lit'));
  });

  test('a bad regex or an unknown runbook fails the config load, naming the path', () => {
    assert.throws(
      () => rules("routes:\n  - match: { alertname: '~(' }\n    runbook: oom-triage\n"),
      (err: unknown) =>
        err instanceof ConfigError && /routes\.0\.match\.alertname: not a regular expression/.test(err.message),
    );
    assert.throws(
      () =>
        resolveConfigRunbooks(
          parseFileConfig('routes:\n  - match: { alertname: x }\n    runbook: reboot-everything\n'),
          {
            find: (name) => (name === 'oom-triage' ? { id: name } : undefined),
            names: ['oom-triage'],
          },
        ),
      (err: unknown) => err instanceof ConfigError && /routes\.0\.runbook/.test(err.message),
    );
    assert.throws(() => rules('routes:\n  - match: {}\n    runbook: oom-triage\n'), /needs at least one label matcher/);
  });

  test('first match wins; target, severity and params come from the alert', async () => {
    const routes = rules(
      [
        'routes:',
        "  - name: first\n    match: { alertname: '~ContainerOOMKilled' }\n    runbook: oom-triage",
        "    deployment: { label: pod, regex: '(.+)-[a-z0-9]+-[a-z0-9]+' }",
        '    severity: { label: severity, map: { critical: P1 }, default: P3 }',
        '    params: { memoryLimit: { annotation: limit }, container: { label: container } }',
        "  - name: second\n    match: { alertname: '~.*' }\n    runbook: p0-response",
      ].join('\n'),
    );
    const alert = {
      fingerprint: 'f1',
      status: 'firing' as const,
      labels: { alertname: 'ContainerOOMKilled', namespace: 'shop', pod: 'checkout-7d9f8-abcde', severity: 'critical' },
      annotations: { limit: '4Gi' },
    };
    const outcome = await routeAlertGroup([alert], only(routes));
    assert.equal(outcome.kind, 'routed');
    if (outcome.kind !== 'routed') return;
    assert.equal(outcome.decision.via, 'rule first');
    assert.equal(outcome.decision.runbook, 'oom-triage');
    assert.deepEqual(outcome.decision.targets, [{ namespace: 'shop', deployment: 'checkout' }]);
    assert.equal(outcome.decision.severity, 'P1');
    assert.deepEqual(outcome.decision.params, { memoryLimit: '4Gi' }, 'a missing label leaves the default');
    assert.equal(readValue({ label: 'severity' }, { ...alert, labels: {} }), undefined);

    const latency = { ...alert.labels, alertname: 'HighLatency', deployment: 'checkout' };
    const other = await routeAlertGroup([{ ...alert, labels: latency }], only(routes));
    assert.equal(other.kind === 'routed' && other.decision.via, 'rule second');
  });

  test('firing alerts choose the target before resolved ones; multi-target runbooks take every target', async () => {
    const routes = rules('routes:\n  - match: { alertname: Avalanche }\n    runbook: avalanche-mitigation\n');
    const alert = (fp: string, deployment: string, status: 'firing' | 'resolved') => ({
      fingerprint: fp,
      status,
      labels: { alertname: 'Avalanche', namespace: 'shop', deployment },
      annotations: {},
    });
    const outcome = await routeAlertGroup(
      [alert('1', 'old', 'resolved'), alert('2', 'cart', 'firing'), alert('3', 'pay', 'firing')],
      only(routes),
    );
    assert.ok(outcome.kind === 'routed');
    assert.deepEqual(
      outcome.decision.targets.map((t) => t.deployment),
      ['cart', 'pay', 'old'],
    );
  });

  test('no rule: the catalog hints route known alert names; unknown ones are ignored with a reason', async () => {
    const hinted = await routeAlertGroup([oomAlert('s', 'f1', { alertname: 'MemoryLeak' })], only([]));
    assert.ok(hinted.kind === 'routed' && hinted.decision.runbook === 'oom-triage');
    assert.equal(hinted.decision.via, 'catalog hint of oom-triage');
    const ignored = await routeAlertGroup([oomAlert('s', 'f1', { alertname: 'DiskAlmostFull' })], only([]));
    assert.deepEqual(ignored, {
      kind: 'unmatched',
      reason: 'no routing rule (none configured), default route or runbook hint matches alerts DiskAlmostFull',
    });
    const unusable = await routeAlertGroup([oomAlert('s', 'f1', { alertname: 'MemoryLeak', deployment: '' })], {
      ...only([]),
      ownersOff: 'no Kubernetes cluster is configured (test)',
    });
    assert.equal(unusable.kind, 'unusable');
    assert.match(
      unusable.kind === 'unusable' ? unusable.reason : '',
      /has no label deployment for the target; its pod shop\/checkout-f1 is not followed to its Deployment: no Kubernetes cluster is configured \(test\)/,
    );
  });

  test('payloads: zero times become unset; escaped receivers normalise; errors name the field', () => {
    const parsed = parsePayload('alertmanager', alertmanagerPayload({ groupKey: 'g', alerts: [oomAlert('s', 'f')] }));
    assert.ok(parsed.ok);
    assert.equal(parsed.payload.alerts?.[0]!.endsAt, undefined);
    assert.equal(normaliseReceiver('web\\.hook'), 'web.hook');
    const bad = parsePayload('alertmanager', {
      ...alertmanagerPayload({ groupKey: 'g', alerts: [oomAlert('s', 'f')] }),
      groupKey: { nested: true },
    });
    assert.ok(!bad.ok);
    assert.match(bad.message, /^invalid alertmanager payload: groupKey: /);
  });
});

describe('the default routing table (pure)', () => {
  test('docs/alert-routing.md shows exactly the table the ingress uses', async () => {
    const doc = await readFile('docs/alert-routing.md', 'utf8');
    const rows = doc.split('\n').filter((line) => line.startsWith('| `default: '));
    assert.equal(rows.length, DEFAULT_ROUTES.length);
    for (const [i, rule] of DEFAULT_ROUTES.entries()) {
      const row = rows[i]!;
      const cells = row.split('|').map((cell) => cell.trim());
      assert.equal(cells[1], `\`${rule.name}\``, `row ${i + 1} is ${rule.name}`);
      assert.equal(cells[3], `\`${rule.runbook}\``, `${rule.name} → ${rule.runbook}`);
      for (const [label, matcher] of Object.entries(rule.match)) {
        const values =
          matcher.kind === 'equal'
            ? [matcher.value]
            : matcher.kind === 'regex'
              ? matcher.pattern.source.replace(/^\^\(\?:|\)\$$/g, '').split('|')
              : [];
        for (const value of values) assert.ok(cells[2]!.includes(value), `${rule.name}: ${label} ${value} in the docs`);
      }
    }
  });

  test('pod alerts of the mixin route with no rules; severity from the label, never P0', async () => {
    const pod = (alertname: string, labels: Record<string, string> = {}) => ({
      fingerprint: alertname,
      status: 'firing' as const,
      labels: { alertname, namespace: 'shop', deployment: 'checkout', container: 'app', ...labels },
      annotations: {},
    });
    const route = (alert: ReturnType<typeof pod>) =>
      routeAlertGroup([alert], { rules: [], defaults: DEFAULT_ROUTES, owners: null });
    const expect = async (alert: ReturnType<typeof pod>, runbook: string, severity: string) => {
      const outcome = await route(alert);
      assert.ok(outcome.kind === 'routed', JSON.stringify(outcome));
      assert.equal(outcome.decision.runbook, runbook, alert.labels.alertname);
      assert.equal(outcome.decision.severity, severity, alert.labels.alertname);
      return outcome.decision;
    };
    await expect(pod('KubePodCrashLooping', { severity: 'warning', reason: 'CrashLoopBackOff' }), 'p0-response', 'P2');
    await expect(pod('KubePodNotReady', { severity: 'critical' }), 'p0-response', 'P1');
    await expect(pod('KubeContainerWaiting', { reason: 'ImagePullBackOff' }), 'emergency-rollback', 'P2');
    await expect(pod('KubeContainerWaiting', { reason: 'ContainerCreating', severity: 'info' }), 'p0-response', 'P3');
    await expect(pod('KubeDeploymentRolloutStuck', { severity: 'warning' }), 'emergency-rollback', 'P2');
    const oom = await expect(pod('KubernetesContainerOomKiller'), 'oom-triage', 'P2');
    assert.deepEqual(oom.params, { container: 'app' });
    await expect(pod('SomethingCustom', { reason: 'OOMKilled' }), 'oom-triage', 'P2');
    const configured = await routeAlertGroup([pod('KubePodCrashLooping')], {
      rules: parseFileConfig(
        'routes:\n  - match: { alertname: KubePodCrashLooping }\n    runbook: p0-response\n    severity: P0\n',
      ).routes,
      defaults: DEFAULT_ROUTES,
      owners: null,
    });
    assert.ok(
      configured.kind === 'routed' && configured.decision.severity === 'P0' && configured.decision.via === 'rule #1',
    );
    const off = parseFileConfig('defaultRoutes: false\n');
    assert.equal(off.defaultRoutes, false);
  });
});

describe('authentication (pure)', () => {
  const config = { token: TOKEN, basic: BASIC };
  const basic = (pair: string) => `Basic ${Buffer.from(pair).toString('base64')}`;

  test('bearer and basic are each accepted; anything else says why not', () => {
    assert.deepEqual(checkCredentials(config, { authorization: `Bearer ${TOKEN}` }), { ok: true, method: 'bearer' });
    assert.deepEqual(checkCredentials(config, { authorization: basic(BASIC) }), { ok: true, method: 'basic' });
    assert.deepEqual(checkCredentials(config, { authorization: `Bearer ${TOKEN}x` }), {
      ok: false,
      reason: 'invalid bearer token',
    });
    assert.deepEqual(checkCredentials(config, { authorization: basic('am:wrong') }), {
      ok: false,
      reason: 'invalid basic auth credentials',
    });
    assert.deepEqual(checkCredentials(config, {}), {
      ok: false,
      reason: 'missing Authorization header (bearer token or basic auth)',
    });
    assert.deepEqual(checkCredentials({ basic: BASIC }, { authorization: `Bearer ${TOKEN}` }), {
      ok: false,
      reason: 'bearer tokens are not accepted here; use basic auth',
    });
  });

  test('Grafana HMAC over the body, or over "<ts>:<body>" with a fresh timestamp', () => {
    const body = '{"a":1}';
    const sign = (text: string) => createHmac('sha256', HMAC_SECRET).update(text).digest('hex');
    const plain = { grafanaHmacSecret: HMAC_SECRET };
    assert.ok(checkGrafanaSignature(plain, { 'x-grafana-alerting-signature': sign(body) }, body).ok);
    assert.ok(!checkGrafanaSignature(plain, { 'x-grafana-alerting-signature': sign('{"a":2}') }, body).ok);
    const stamped = { ...plain, grafanaTimestampHeader: TIMESTAMP_HEADER };
    const now = Date.now();
    const ts = String(Math.floor(now / 1000));
    const headers = (t: string) => ({
      'x-grafana-alerting-signature': sign(`${t}:${body}`),
      [TIMESTAMP_HEADER.toLowerCase()]: t,
    });
    assert.ok(checkGrafanaSignature(stamped, headers(ts), body, now).ok);
    const late = checkGrafanaSignature(stamped, headers(ts), body, now + 301_000);
    const early = checkGrafanaSignature(stamped, headers(ts), body, now - 301_000);
    assert.ok(!late.ok && /stale signature/.test(late.reason), 'too old');
    assert.ok(!early.ok && /stale signature/.test(early.reason), 'from the future');
    assert.ok(!checkGrafanaSignature(stamped, { 'x-grafana-alerting-signature': sign(body) }, body, now).ok);
  });
});

describe('webhooks on a real Temporal', () => {
  let rig: AlertRig;
  const sink = `s-${randomUUID().slice(0, 8)}`;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const am = () => `${rig.ingress.url}/webhooks/alertmanager`;

  before(async () => {
    rig = await startAlertRig({
      name: 'alerts',
      configYaml: oomRoutesYaml(sink),
      env: {
        FIREBREAK_WEBHOOK_TOKEN: TOKEN,
        FIREBREAK_WEBHOOK_BASIC_AUTH: BASIC,
        FIREBREAK_GRAFANA_HMAC_SECRET: HMAC_SECRET,
        FIREBREAK_GRAFANA_HMAC_TIMESTAMP_HEADER: TIMESTAMP_HEADER,
        FIREBREAK_WEBHOOK_BODY_LIMIT: '2MiB',
      },
    });
  });

  after(async () => {
    await rig?.close();
  });

  const handleFor = (receiver: string, groupKey: string): WorkflowHandle =>
    rig.client.workflow.getHandle(alertWorkflowId('alertmanager', receiver, groupKey));
  const record = (handle: WorkflowHandle) => handle.query(statusQuery);

  test('what cannot be understood, oversized and unauthenticated requests get a clear 4xx and start nothing', async () => {
    const groupKey = `{}:{refused="${randomUUID()}"}`;
    const existing = await rig.workflows();
    // Its own deployment: the control incident at the end must not touch the other tests' fake one.
    const valid = alertmanagerPayload({ groupKey, alerts: [oomAlert(sink, 'refused-1', { deployment: 'control' })] });
    const firstAlert = (valid.alerts as Record<string, unknown>[])[0]!;
    const noAlertList = { ...valid } as Record<string, unknown>;
    delete noAlertList.alerts;
    const cases: { name: string; body: unknown; headers?: Record<string, string>; status: number; error: RegExp }[] = [
      { name: 'bad JSON', body: '{"version": "4",', status: 400, error: /not valid JSON/ },
      { name: 'empty body', body: '', status: 400, error: /body is empty/ },
      { name: 'an array', body: '[1]', status: 400, error: /must be a JSON object/ },
      {
        name: 'bad status',
        body: { ...valid, status: 'pending' },
        status: 400,
        error: /status: must be "firing" or "resolved"/,
      },
      { name: 'no alert list', body: noAlertList, status: 400, error: /alerts: is required: the list of alerts/ },
      {
        name: 'labels not a map',
        body: { ...valid, alerts: [{ ...firstAlert, labels: ['alertname'] }] },
        status: 400,
        error: /alerts\.0\.labels: must be an object of names to text values/,
      },
      {
        name: 'not a timestamp',
        body: { ...valid, alerts: [{ ...firstAlert, startsAt: 'yesterday' }] },
        status: 400,
        error: /alerts\.0\.startsAt: must be an RFC 3339 timestamp/,
      },
      {
        name: 'legacy Grafana alerting',
        body: { title: '[Alerting] x', ruleName: 'x', state: 'alerting', evalMatches: [] },
        status: 400,
        error: /legacy Grafana alerting notification/,
      },
      {
        name: 'no credentials',
        body: valid,
        headers: { authorization: '' },
        status: 401,
        error: /missing Authorization/,
      },
      {
        name: 'bad token',
        body: valid,
        headers: { authorization: 'Bearer nope' },
        status: 401,
        error: /invalid bearer token/,
      },
      {
        name: 'bad basic auth',
        body: valid,
        headers: { authorization: `Basic ${Buffer.from('am:nope').toString('base64')}` },
        status: 401,
        error: /invalid basic auth/,
      },
      {
        name: 'over FIREBREAK_WEBHOOK_BODY_LIMIT',
        body: JSON.stringify({ ...valid, padding: 'x'.repeat(2 * 1024 * 1024) }),
        status: 413,
        error: /larger than 2097152 bytes/,
      },
    ];
    for (const c of cases) {
      const res = await postJson(am(), c.body, { ...auth, ...c.headers });
      assert.equal(res.status, c.status, `${c.name}: ${JSON.stringify(res.body)}`);
      assert.match(String(res.body.error), c.error, c.name);
    }
    // Unauthenticated callers learn nothing about payloads: bad JSON without credentials is a 401.
    assert.equal((await postJson(am(), '{oops', { authorization: 'Bearer nope' })).status, 401);
    const grafana = await postJson(`${rig.ingress.url}/webhooks/grafana`, { ...valid, version: '1' }, auth);
    assert.equal(grafana.status, 401, 'Grafana needs its signature once a secret is configured');
    assert.match(String(grafana.body.error), /missing x-grafana-alerting-signature/);

    await assert.rejects(handleFor('firebreak.webhook', groupKey).describe(), /not found/i);
    assert.deepEqual(await rig.workflows(), existing, 'no refused request started anything');
    // The control: the same payload, well-formed and authenticated, does start the incident.
    const accepted = await postJson(am(), valid, auth);
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal((await handleFor('firebreak.webhook', groupKey).describe()).type, 'oomTriageWorkflow');
    const metrics = await rig.ingress.metrics.render();
    assert.match(metrics, /firebreak_alert_notifications_total\{outcome="invalid",source="alertmanager"\} 8/);
    assert.equal(accepted.body.derived, undefined, 'nothing derived from a complete payload');
    assert.match(metrics, /firebreak_alert_notifications_total\{outcome="unauthorized",source="alertmanager"\} 4/);
  });

  test('a burst of notifications for one group opens exactly one incident that records every fingerprint', async () => {
    const groupKey = `{}:{alertname="ContainerOOMKilled", sink="${sink}", burst="${randomUUID()}"}`;
    const before = new Set(await rig.workflows());
    // Escaped and plain receiver spellings are one group.
    const posts = Array.from({ length: 20 }, (_, i) =>
      postJson(
        am(),
        alertmanagerPayload({
          receiver: i % 2 === 0 ? 'firebreak\\.webhook' : 'firebreak.webhook',
          groupKey,
          alerts: [oomAlert(sink, `burst-${i % 7}`, { severity: 'critical', deployment: 'burst' })],
        }),
        auth,
      ),
    );
    const answers = await Promise.all(posts);
    for (const answer of answers) assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const handle = handleFor('firebreak.webhook', groupKey);
    assert.ok(answers.every((a) => a.body.workflowId === handle.workflowId));
    const incident = await eventually('7 fingerprints', async () => {
      const r = await record(handle);
      return r.alerts.length === 7 ? r : undefined;
    });
    assert.equal(incident.runbook, 'oom-triage');
    assert.equal(incident.severity, 'P1', 'severity mapped from the label');
    assert.deepEqual(incident.trigger, {
      kind: 'alert',
      source: 'alertmanager',
      receiver: 'firebreak.webhook',
      groupKey,
    });
    const created = (await rig.workflows()).filter((id) => !before.has(id));
    assert.deepEqual(created, [handle.workflowId]);
    const description = await handle.describe();
    assert.equal(description.type, 'oomTriageWorkflow');
    const raised = await eventually('the memory limit raised', async () =>
      rig.world.made('setContainerResources', (input) => input.incidentId === incident.id).at(0),
    );
    assert.deepEqual((raised.input as { limits: unknown }).limits, { memory: '3Gi' }, 'param from the annotation');
  });

  test('a firing group holding resolved alerts, partial views, and the resolution that closes the incident', async () => {
    const groupKey = `{}:{alertname="ContainerOOMKilled", sink="${sink}", partial="${randomUUID()}"}`;
    const handle = handleFor('firebreak.webhook', groupKey);
    const partialTarget = { deployment: 'partial' };
    const send = async (alerts: ReturnType<typeof oomAlert>[], truncatedAlerts = 0) => {
      const res = await postJson(am(), alertmanagerPayload({ groupKey, alerts, truncatedAlerts }), auth);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body;
    };
    assert.equal(
      (await send([oomAlert(sink, 'p-a', partialTarget), oomAlert(sink, 'p-b', partialTarget)])).outcome,
      'accepted',
    );
    await eventually('two alerts', async () => ((await record(handle)).alerts.length === 2 ? true : undefined));

    // Firing status, one alert resolved inside it.
    await send([oomAlert(sink, 'p-a', partialTarget, 'resolved'), oomAlert(sink, 'p-b', partialTarget)]);
    const mixed = await eventually('p-a resolved', async () => {
      const r = await record(handle);
      return r.alerts.find((a) => a.fingerprint === 'p-a')?.status === 'resolved' ? r : undefined;
    });
    assert.equal(mixed.status === 'resolved', false, 'one alert still fires');

    // Every alert in view resolved, but the view is partial: the incident must stay open.
    const partial = await send(
      [oomAlert(sink, 'p-a', partialTarget, 'resolved'), oomAlert(sink, 'p-b', partialTarget, 'resolved')],
      3,
    );
    assert.equal(partial.outcome, 'signalled', 'a resolution only signals');
    const truncated = await eventually('partial view recorded', async () => {
      const r = await record(handle);
      return r.alertsPartial && r.alerts.every((a) => a.status === 'resolved') ? r : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.notEqual((await record(handle)).status, 'resolved', 'never "all resolved" from a partial view');
    assert.equal(truncated.resolvedAt, undefined);

    // The complete view: all resolved → the incident resolves (policy) and restores its mitigations.
    await send([oomAlert(sink, 'p-a', partialTarget, 'resolved'), oomAlert(sink, 'p-b', partialTarget, 'resolved')]);
    const result = (await handle.result()) as IncidentRecord;
    assert.equal(result.status, 'resolved');
    assert.ok(result.timeline.some((e) => e.message === 'Every alert of the incident resolved'));
    assert.ok(result.mitigations.length > 0 && result.mitigations.every((m) => m.restoredAt !== undefined));

    // Resolutions for a closed group never open a new incident.
    const late = await send([oomAlert(sink, 'p-a', partialTarget, 'resolved')]);
    assert.equal(late.outcome, 'ignored');
    assert.match(String(late.reason), /resolved alerts never start one/);
    assert.equal((await handle.describe()).status.name, 'COMPLETED');
  });

  test('groups no rule matches, and alerts that cannot fill their runbook, are answered 200 and logged', async () => {
    const before = new Set(await rig.workflows());
    const unmatchedKey = `{}:{alertname="DiskAlmostFull", u="${randomUUID()}"}`;
    const unmatched = await postJson(
      am(),
      alertmanagerPayload({ groupKey: unmatchedKey, alerts: [oomAlert(sink, 'u-1', { alertname: 'DiskAlmostFull' })] }),
      auth,
    );
    assert.equal(unmatched.status, 200);
    assert.equal(unmatched.body.outcome, 'ignored');
    assert.ok(
      rig.ingress.logs.some(
        (line) =>
          line.includes(JSON.stringify(unmatchedKey)) &&
          /ignored: no routing rules, default route or runbook hint matches alerts DiskAlmostFull/.test(line),
      ),
    );

    const unusableKey = `{}:{alertname="ContainerOOMKilled", u="${randomUUID()}"}`;
    const noNamespace = oomAlert(sink, 'u-2');
    delete noNamespace.labels.namespace;
    const unusable = await postJson(am(), alertmanagerPayload({ groupKey: unusableKey, alerts: [noNamespace] }), auth);
    assert.equal(unusable.status, 200);
    assert.equal(unusable.body.outcome, 'unroutable');
    assert.match(String(unusable.body.reason), /rule oom: not routed: alert u-2 has no label namespace for the target/);

    const badParamKey = `{}:{alertname="ContainerOOMKilled", u="${randomUUID()}"}`;
    const badLimit = oomAlert(sink, 'u-3');
    badLimit.annotations.memory_limit = 'lots';
    const invalid = await postJson(am(), alertmanagerPayload({ groupKey: badParamKey, alerts: [badLimit] }), auth);
    assert.equal(invalid.status, 200);
    assert.equal(invalid.body.outcome, 'unroutable');
    assert.match(String(invalid.body.reason), /invalid parameters for oom-triage/);

    assert.deepEqual(
      (await rig.workflows()).filter((id) => !before.has(id)),
      [],
    );
    assert.match(
      await rig.ingress.metrics.render(),
      /firebreak_alert_notifications_total\{outcome="unroutable",source="alertmanager"\} 2/,
    );
  });

  test('Grafana: a signed, timestamped notification opens an incident; the same group later is the same incident', async () => {
    const groupKey = `{}:{alertname="ContainerOOMKilled", grafana="${randomUUID()}"}`;
    const send = async (alerts: ReturnType<typeof oomAlert>[], method: 'POST' | 'PUT' = 'POST') => {
      const body = JSON.stringify({
        ...alertmanagerPayload({ receiver: 'OOM webhook', groupKey, alerts }),
        version: '1',
        orgId: 1,
        title: '[FIRING:1] ContainerOOMKilled',
        state: 'alerting',
        message: 'OOM',
      });
      const ts = String(Math.floor(Date.now() / 1000));
      const signature = createHmac('sha256', HMAC_SECRET).update(`${ts}:${body}`).digest('hex');
      return postJson(
        `${rig.ingress.url}/webhooks/grafana`,
        body,
        { 'x-grafana-alerting-signature': signature, [TIMESTAMP_HEADER]: ts },
        method,
      );
    };
    const first = await send([oomAlert(sink, 'g-1', { deployment: 'grafana' })]);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const second = await send(
      [oomAlert(sink, 'g-1', { deployment: 'grafana' }), oomAlert(sink, 'g-2', { deployment: 'grafana' })],
      'PUT',
    );
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body.workflowId, first.body.workflowId);
    const handle = rig.client.workflow.getHandle(alertWorkflowId('grafana', 'OOM webhook', groupKey));
    const incident = await eventually('two Grafana alerts', async () => {
      const r = await record(handle);
      return r.alerts.length === 2 ? r : undefined;
    });
    assert.equal(incident.trigger.kind === 'alert' && incident.trigger.source, 'grafana');
    assert.equal(incident.severity, 'P3', 'no severity label: the rule default');
  });

  test('Temporal out of reach: 503 so the sender retries, within a bounded time', async () => {
    const deadPort = await freePort();
    const deadConnection = await Connection.lazy({ address: `127.0.0.1:${deadPort}` });
    const deadClient = new Client({ connection: deadConnection });
    const outage = await startTestIngress({
      client: deadClient,
      taskQueue: rig.taskQueue,
      policy: fastPolicy(),
      configYaml: oomRoutesYaml(sink),
      env: { FIREBREAK_WEBHOOK_TOKEN: TOKEN },
    });
    try {
      const started = Date.now();
      const res = await postJson(
        `${outage.url}/webhooks/alertmanager`,
        alertmanagerPayload({ groupKey: `{}:{outage="${randomUUID()}"}`, alerts: [oomAlert(sink, 'o-1')] }),
        auth,
      );
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.match(String(res.body.error), /Temporal is unreachable/);
      assert.ok(Date.now() - started < 8_000, 'answered within the hard cap, before the socket timeout');
      assert.ok(outage.logs.some((line) => /answered 503 so the sender retries/.test(line)));
    } finally {
      await outage.close();
      // The 503 can win the race against a call whose deadline ends at the same cap: let that call
      // give up first, or its retry would fire on a closed channel after the test ended.
      await sleep(2_500);
      await deadConnection.close();
    }
  });
});
