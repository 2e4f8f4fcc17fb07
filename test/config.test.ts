import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ConfigError, parseEnv } from '../config/env';
import { incidentPolicy, parseFileConfig } from '../config/file';
import { DEFAULT_POLICY } from '../common/incident';
import { parseDuration } from '../common/duration';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    return err;
  }
  assert.fail('expected a configuration error');
}

test('defaults match the documented ones', () => {
  const env = parseEnv({});
  assert.equal(env.FIREBREAK_HOST, '127.0.0.1');
  assert.equal(env.FIREBREAK_PORT, 8080);
  assert.equal(env.FIREBREAK_TEMPORAL_PORT, 7233);
  assert.equal(env.FIREBREAK_DATA_DIR, './.firebreak');
  assert.equal(env.TEMPORAL_NAMESPACE, 'default');
  assert.equal(env.TEMPORAL_ADDRESS, undefined);
});

test('every bad variable is named with the reason; secrets are not echoed', () => {
  const err = configError(() =>
    parseEnv({
      FIREBREAK_PORT: '70000',
      FIREBREAK_TEMPORAL_PORT: 'x',
      SLACK_BOT_TOKEN: 'not-a-bot-token',
      SLACK_SIGNING_SECRET: 's',
      PAGERDUTY_EVENTS_URL: 'ftp://example',
    }),
  );
  assert.match(err.message, /FIREBREAK_PORT: must be between 1 and 65535 \(got "70000"\)/);
  assert.match(err.message, /FIREBREAK_TEMPORAL_PORT: must be a port number/);
  assert.match(err.message, /SLACK_BOT_TOKEN: must be a bot token \(xoxb-...\) \(got "<redacted>"\)/);
  assert.match(err.message, /PAGERDUTY_EVENTS_URL/);
  assert.doesNotMatch(err.message, /not-a-bot-token/);
  const pair = configError(() => parseEnv({ TEMPORAL_TLS_CERT: '/tmp/cert.pem' }));
  assert.match(pair.message, /TEMPORAL_TLS_KEY: TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together/);
  const exposed = configError(() => parseEnv({ FIREBREAK_HOST: '0.0.0.0' }));
  assert.match(
    exposed.message,
    /FIREBREAK_WEBHOOK_TOKEN: is required \(or FIREBREAK_WEBHOOK_BASIC_AUTH\) when FIREBREAK_HOST/,
  );
  assert.equal(parseEnv({ FIREBREAK_HOST: '0.0.0.0', FIREBREAK_WEBHOOK_TOKEN: 't' }).FIREBREAK_HOST, '0.0.0.0');
  const slack = configError(() => parseEnv({ SLACK_BOT_TOKEN: 'xoxb-1' }));
  assert.match(slack.message, /SLACK_SIGNING_SECRET: is required with SLACK_BOT_TOKEN/);
});

test('durations are parsed the way operators write them', () => {
  assert.equal(parseDuration('15m'), 900_000);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration(42), 42);
  assert.equal(parseDuration('soon'), undefined);
  assert.equal(parseDuration('-1s'), undefined);
});

test('the config file overrides the policy, and unknown keys are refused', () => {
  const config = parseFileConfig(
    'policy:\n  ackDeadline: { P0: 2s }\n  restoreAfter: 10m\napprovers:\n  users: [U1]\n',
  );
  const policy = incidentPolicy(config);
  assert.equal(policy.ackDeadlineMs.P0, 2_000);
  assert.equal(policy.ackDeadlineMs.P1, DEFAULT_POLICY.ackDeadlineMs.P1);
  assert.equal(policy.restoreAfterMs, 600_000);
  assert.deepEqual(policy.approvers.users, ['U1']);
  const err = configError(() => parseFileConfig('policy:\n  typo: 1\n'));
  assert.match(err.message, /policy: Unrecognized key: "typo"/);
  assert.match(configError(() => parseFileConfig('a: [')).message, /not valid YAML/);
});

test('the shipped example config is valid', async () => {
  const config = parseFileConfig(await readFile('deploy/config.example.yaml', 'utf8'), 'deploy/config.example.yaml');
  assert.ok(config.routes.length >= 2);
  assert.equal(incidentPolicy(config).tiers.length, 3);
});

test('docker-compose wires Firebreak to Temporal on PostgreSQL with the same variables', async () => {
  const compose = parseYaml(await readFile('docker-compose.yml', 'utf8')) as {
    services: Record<
      string,
      { environment?: Record<string, string>; depends_on?: unknown; build?: string; image?: string }
    >;
  };
  const { postgresql, temporal, firebreak } = compose.services;
  const ui = compose.services['temporal-ui'];
  assert.ok(postgresql?.image?.startsWith('postgres'));
  assert.equal(temporal?.environment?.DB, 'postgres12');
  assert.equal(temporal?.environment?.POSTGRES_SEEDS, 'postgresql');
  assert.equal(ui?.environment?.TEMPORAL_ADDRESS, 'temporal:7233');
  assert.equal(firebreak?.build, '.');
  assert.equal(firebreak?.environment?.TEMPORAL_ADDRESS, 'temporal:7233');
  assert.ok(JSON.stringify(firebreak?.depends_on).includes('temporal'));
  // Every variable the compose file sets for Firebreak is one the env schema knows.
  const { envSchema } = await import('../config/env');
  const known = Object.keys(envSchema.shape ?? {});
  for (const name of Object.keys(firebreak?.environment ?? {})) {
    assert.ok(known.includes(name), `${name} is a Firebreak variable`);
  }
  const dockerfile = await readFile('Dockerfile', 'utf8');
  assert.match(dockerfile, /FIREBREAK_WORKFLOW_BUNDLE/);
});

test('every environment variable is documented in the README', async () => {
  const { envSchema } = await import('../config/env');
  const readme = await readFile('README.md', 'utf8');
  const undocumented = Object.keys(envSchema.shape).filter((name) => !readme.includes(`\`${name}\``));
  assert.deepEqual(undocumented, []);
});
