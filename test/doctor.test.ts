/**
 * `firebreak doctor` on the bed: every integration green against the real Temporal dev server, the
 * real control plane (admin credentials), the real Prometheus and the Slack / PagerDuty stand-ins;
 * then one fault at a time, each named with its fix and exit 1: a wrong Slack token, Prometheus
 * down, a service account whose Role lacks one verb (the bed's apiserver authorizes with RBAC), and
 * an escalation chain that reaches nobody.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1PolicyRule,
} from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';
import { runCli } from '../cli/cli';
import { runCliCaptured } from './cli-support';
import type { CheckResult } from '../cli/doctor/check';
import { RUNBOOK_ACCESS } from '../cli/doctor/kubernetes';
import { PagerDutyStandIn } from './bed/pagerduty-standin';
import { freePort } from './bed/ports';
import { SlackStandIn } from './bed/slack-standin';
import { testTemporalAddress } from './bed/worker';

const TOKEN = 'xoxb-doctor-test';
const CHANNEL = 'C0DOCTOR01';
const env = process.env;
const SKIP =
  env.FIREBREAK_TEST_TEMPORAL_ADDRESS && env.FIREBREAK_TEST_KUBECONFIG && env.FIREBREAK_TEST_PROMETHEUS_URL
    ? false
    : 'needs the temporal, kube and prometheus bed components';

async function doctor(vars: Record<string, string>, args: string[] = []) {
  const { code, stdout, stderr } = await runCliCaptured(['doctor', '--json', ...args], vars);
  const report = stdout ? (JSON.parse(stdout) as { ok: boolean; checks: CheckResult[] }) : undefined;
  return { code, report, stderr };
}

const failures = (checks: CheckResult[]) => checks.filter((c) => c.status === 'fail');

describe('firebreak doctor', { skip: SKIP }, () => {
  const slack = new SlackStandIn({ tokens: [TOKEN] });
  const pagerduty = new PagerDutyStandIn();
  let dir: string;
  let base: Record<string, string>;
  const namespace = `doctor-${Date.now().toString(36)}`;
  const admin = new KubeConfig();

  before(async () => {
    await Promise.all([slack.start(), pagerduty.start()]);
    slack.botChannels.add(CHANNEL);
    dir = await mkdtemp(path.join(tmpdir(), 'firebreak-doctor-'));
    const config = path.join(dir, 'firebreak.yaml');
    await writeFile(
      config,
      toYaml({
        slack: { channel: CHANNEL },
        escalation: {
          tiers: [
            { name: 'on-call', kind: 'slack', mentions: ['S0ONCALL01'] },
            { name: 'PD', kind: 'pagerduty' },
          ],
        },
      }),
    );
    base = {
      TEMPORAL_ADDRESS: testTemporalAddress(),
      TEMPORAL_NAMESPACE: env.FIREBREAK_TEST_TEMPORAL_NAMESPACE ?? 'default',
      FIREBREAK_CONFIG: config,
      FIREBREAK_DATA_DIR: path.join(dir, 'data'),
      FIREBREAK_ARCHIVE_DIR: path.join(dir, 'archive'),
      KUBECONFIG: env.FIREBREAK_TEST_KUBECONFIG!,
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_SIGNING_SECRET: 'doctor-signing-secret',
      SLACK_API_URL: slack.apiUrl,
      PAGERDUTY_ROUTING_KEY: 'R0DOCTORROUTINGKEY00000000000000',
      PAGERDUTY_EVENTS_URL: pagerduty.url,
      PROMETHEUS_URL: env.FIREBREAK_TEST_PROMETHEUS_URL!,
    };
    admin.loadFromFile(env.FIREBREAK_TEST_KUBECONFIG!);
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });

  after(async () => {
    await admin
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => undefined);
    await Promise.all([slack.stop(), pagerduty.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('green on the bed: every integration checked for real, exit 0; --page sends and resolves a test page', async () => {
    const { code, report, stderr } = await doctor(base, ['--namespace', namespace, '--page']);
    assert.equal(code, 0, `${stderr}\n${JSON.stringify(report && failures(report.checks), null, 1)}`);
    const names = report!.checks.filter((c) => c.status === 'ok').map((c) => `${c.area}: ${c.check}`);
    for (const expected of [
      'temporal: reachable',
      'temporal: namespace',
      'temporal: search attributes',
      'slack: auth.test',
      'slack: incident channel',
      'slack: signing secret',
      'pagerduty: routing key',
      'pagerduty: endpoint',
      'pagerduty: test page',
      'kubernetes: API server',
      'prometheus: query',
      'escalation: tier on-call (slack)',
    ]) {
      assert.ok(names.includes(expected), `${expected} in ${names.join(', ')}`);
    }
    assert.ok(names.filter((n) => n.startsWith('directories')).length === 2);
    const pages = [...pagerduty.alerts.values()].filter((a) => a.summary === 'firebreak doctor test page');
    assert.deepEqual(
      pages.map((a) => a.status),
      ['resolved'],
    );
    assert.equal(slack.callsOf('auth.test').length, 1);
  });

  test('wrong Slack token: auth.test fails and says to copy the token again', async () => {
    const { code, report } = await doctor({ ...base, SLACK_BOT_TOKEN: 'xoxb-wrong' });
    assert.equal(code, 1);
    const [failed, ...rest] = failures(report!.checks);
    assert.equal(rest.length, 0, JSON.stringify(rest));
    assert.equal(`${failed!.area}: ${failed!.check}`, 'slack: auth.test');
    assert.match(failed!.detail, /invalid_auth/);
    assert.match(failed!.fix ?? '', /SLACK_BOT_TOKEN/);
  });

  test('Prometheus down: the query check names the URL and the refused connection', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const { code, report } = await doctor({ ...base, PROMETHEUS_URL: url });
    assert.equal(code, 1);
    const failed = failures(report!.checks);
    assert.deepEqual(
      failed.map((c) => `${c.area}: ${c.check}`),
      ['prometheus: query'],
    );
    assert.match(failed[0]!.detail, new RegExp(`${url}.*ECONNREFUSED`));
  });

  test('RBAC missing a verb: the SelfSubjectAccessReview names verb, resource and namespace', async () => {
    const core = admin.makeApiClient(CoreV1Api);
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    // Everything the runbooks use except `create pods/exec`.
    const rules: V1PolicyRule[] = RUNBOOK_ACCESS.map((access) => ({
      apiGroups: [access.group],
      resources: [access.subresource ? `${access.resource}/${access.subresource}` : access.resource],
      verbs: access.subresource === 'exec' ? access.verbs.filter((v) => v !== 'create') : access.verbs,
    }));
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'doctor' } } });
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name: 'doctor' }, rules } });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'doctor' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'doctor' },
        subjects: [{ kind: 'ServiceAccount', name: 'doctor', namespace }],
      },
    });
    let token: string | undefined;
    for (let i = 0; i < 50 && !token; i++) {
      try {
        const answer = await core.createNamespacedServiceAccountToken({
          name: 'doctor',
          namespace,
          body: { spec: { audiences: [], expirationSeconds: 600 } },
        });
        token = answer.status?.token;
      } catch (err) {
        if (!(err instanceof ApiException)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    assert.ok(token, 'a token for the doctor service account');
    const cluster = admin.getCurrentCluster()!;
    const limited = new KubeConfig();
    limited.loadFromOptions({
      clusters: [cluster],
      users: [{ name: 'doctor', token }],
      contexts: [{ name: 'doctor', cluster: cluster.name, user: 'doctor', namespace }],
      currentContext: 'doctor',
    });
    const file = path.join(dir, 'doctor.kubeconfig');
    await writeFile(file, limited.exportConfig(), { mode: 0o600 });

    const { code, report } = await doctor({ ...base, KUBECONFIG: file });
    assert.equal(code, 1);
    const failed = failures(report!.checks);
    assert.deepEqual(
      failed.map((c) => `${c.area}: ${c.check}`),
      [`kubernetes: create pods/exec in ${namespace}`],
    );
    assert.match(failed[0]!.fix ?? '', /grant verb "create" on "pods\/exec"/);
  });

  test('an escalation chain that reaches nobody fails with the reason per tier', async () => {
    const { code, report } = await doctor({
      ...base,
      SLACK_BOT_TOKEN: '',
      PAGERDUTY_ROUTING_KEY: '',
      SLACK_SIGNING_SECRET: '',
    });
    assert.equal(code, 1);
    const failed = failures(report!.checks);
    assert.deepEqual(
      failed.map((c) => `${c.area}: ${c.check}`),
      ['escalation: chain'],
    );
    assert.match(
      failed[0]!.detail,
      /reaches nobody.*on-call: SLACK_BOT_TOKEN is not set.*PD: PAGERDUTY_ROUTING_KEY is not set/,
    );
  });

  test('--help describes the command', async () => {
    let out = '';
    const code = await runCli(['doctor', '--help'], { stdout: (t) => (out += t), stderr: () => undefined, env: {} });
    assert.equal(code, 0);
    assert.match(out, /firebreak doctor \[--namespace <ns>\]\.\.\. \[--page\] \[--json\]/);
  });
});
