import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
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
  assert.equal(env.FIREBREAK_EVIDENCE_DIR, undefined, 'evidence goes to <data dir>/evidence');
  assert.equal(env.FIREBREAK_EVIDENCE_MAX_BYTES, 64 * 2 ** 20);
});

test('the evidence cap is a size, named when wrong', () => {
  assert.equal(parseEnv({ FIREBREAK_EVIDENCE_MAX_BYTES: '16MiB' }).FIREBREAK_EVIDENCE_MAX_BYTES, 16 * 2 ** 20);
  const err = configError(() => parseEnv({ FIREBREAK_EVIDENCE_MAX_BYTES: 'lots' }));
  assert.match(err.message, /FIREBREAK_EVIDENCE_MAX_BYTES: must be a size/);
  const tiny = configError(() => parseEnv({ FIREBREAK_EVIDENCE_MAX_BYTES: '10' }));
  assert.match(tiny.message, /FIREBREAK_EVIDENCE_MAX_BYTES: must be between 65536/);
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

test('the engine telemetry: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set, and a bad value is named', () => {
  const off = parseEnv({});
  assert.equal(off.OTEL_EXPORTER_OTLP_ENDPOINT, undefined);
  assert.equal(off.OTEL_SERVICE_NAME, 'firebreak');
  assert.equal(off.FIREBREAK_WORKER_METRICS_ADDRESS, undefined);
  const on = parseEnv({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    FIREBREAK_WORKER_METRICS_ADDRESS: '0.0.0.0:9464',
  });
  assert.equal(on.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://otel-collector:4318');
  assert.equal(on.FIREBREAK_WORKER_METRICS_ADDRESS, '0.0.0.0:9464');
  const endpoint = configError(() => parseEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'otel-collector:4317' }));
  assert.match(
    endpoint.message,
    /OTEL_EXPORTER_OTLP_ENDPOINT: must be an? .*http\(s\) URL \(got "otel-collector:4317"\)/,
  );
  const grpc = configError(() => parseEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }));
  assert.match(grpc.message, /OTEL_EXPORTER_OTLP_PROTOCOL: must be http\/protobuf/);
  const metrics = configError(() => parseEnv({ FIREBREAK_WORKER_METRICS_ADDRESS: '9464' }));
  assert.match(metrics.message, /FIREBREAK_WORKER_METRICS_ADDRESS: must be host:port/);
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

interface ComposeService {
  environment?: Record<string, string | number>;
  depends_on?: Record<string, { condition?: string }>;
  build?: string;
  image?: string;
  volumes?: string[];
  entrypoint?: string[];
  command?: string[];
}

async function readCompose(): Promise<Record<string, ComposeService>> {
  return (parseYaml(await readFile('docker-compose.yml', 'utf8')) as { services: Record<string, ComposeService> })
    .services;
}

/** The container path where a service mounts the repo file `file`, if it does. */
function mountOf(service: ComposeService | undefined, file: string): string | undefined {
  const mount = service?.volumes?.find((volume) => volume.split(':')[0] === `./${file}`);
  return mount?.split(':')[1];
}

test('docker-compose wires Firebreak to Temporal on PostgreSQL with the same variables', async () => {
  const services = await readCompose();
  const { postgresql, temporal, firebreak } = services;
  const ui = services['temporal-ui'];
  assert.ok(postgresql?.image?.startsWith('postgres'));
  assert.equal(temporal?.environment?.DB, 'postgres12');
  assert.equal(temporal?.environment?.POSTGRES_SEEDS, 'postgresql');
  assert.equal(temporal?.environment?.POSTGRES_USER, postgresql?.environment?.POSTGRES_USER);
  assert.equal(temporal?.environment?.POSTGRES_PWD, postgresql?.environment?.POSTGRES_PASSWORD);
  assert.equal(ui?.environment?.TEMPORAL_ADDRESS, 'temporal:7233');
  assert.equal(firebreak?.build, '.');
  assert.equal(firebreak?.environment?.TEMPORAL_ADDRESS, 'temporal:7233');
  assert.equal(firebreak?.depends_on?.['temporal-namespace']?.condition, 'service_completed_successfully');
  // Every variable the compose file sets for Firebreak is one the env schema knows.
  const { envSchema } = await import('../config/env');
  const known = Object.keys(envSchema.shape ?? {});
  for (const name of Object.keys(firebreak?.environment ?? {})) {
    assert.ok(known.includes(name), `${name} is a Firebreak variable`);
  }
  const dockerfile = await readFile('Dockerfile', 'utf8');
  assert.match(dockerfile, /FIREBREAK_WORKFLOW_BUNDLE/);
});

test('docker-compose sets Temporal up the way the test bed does: same release, script and dynamic config', async () => {
  const services = await readCompose();
  const { postgresql, temporal } = services;
  const schema = services['temporal-schema'];
  const namespace = services['temporal-namespace'];
  assert.ok(!JSON.stringify(services).includes('auto-setup'), 'no development-only auto-setup image');

  // The server release is the one the bed builds from Go modules (the one the pinned CLI embeds).
  const build = await readFile('test/temporal-server/build.sh', 'utf8');
  const bedVersion = /SERVER_VERSION="\$\{FIREBREAK_TEMPORAL_SERVER_VERSION:-v([\d.]+)\}"/.exec(build)?.[1];
  assert.ok(bedVersion, 'the bed pins a server version');
  assert.equal(temporal?.image, `temporalio/server:${bedVersion}`);
  assert.ok(schema?.image?.startsWith(`temporalio/admin-tools:${bedVersion}-`), `admin-tools of ${bedVersion}`);
  assert.equal(namespace?.image, schema?.image);

  // Schema and namespace: the one script the bed runs too (test/bed/temporal-postgres.ts).
  const { SETUP_SCRIPT, DYNAMIC_CONFIG } = await import('./bed/temporal-postgres');
  const script = path.relative(process.cwd(), SETUP_SCRIPT);
  for (const [service, step] of [
    [schema, 'schema'],
    [namespace, 'namespace'],
  ] as const) {
    const mounted = mountOf(service, script);
    assert.ok(mounted, `${script} is mounted`);
    assert.deepEqual([...(service?.entrypoint ?? []), ...(service?.command ?? [])], ['/bin/sh', mounted, step]);
  }
  const steps = await readFile(SETUP_SCRIPT, 'utf8');
  for (const command of ['create-database', 'setup-schema -v 0.0', 'update-schema -d "$schema_dir/$2/versioned"']) {
    assert.ok(steps.includes(`"$tool" --db "$1" ${command}`), `the script runs temporal-sql-tool ${command}`);
  }
  assert.match(steps, /setup_database "\$\{TEMPORAL_DB:-temporal\}" temporal\n/);
  assert.match(steps, /setup_database "\$\{TEMPORAL_VISIBILITY_DB:-temporal_visibility\}" visibility\n/);
  assert.deepEqual(schema?.environment, {
    SQL_PLUGIN: temporal?.environment?.DB,
    SQL_HOST: temporal?.environment?.POSTGRES_SEEDS,
    SQL_PORT: temporal?.environment?.DB_PORT,
    SQL_USER: postgresql?.environment?.POSTGRES_USER,
    SQL_PASSWORD: postgresql?.environment?.POSTGRES_PASSWORD,
  });
  assert.equal(namespace?.environment?.TEMPORAL_ADDRESS, 'temporal:7233');

  // Order: schema before the server, the server healthy before the namespace.
  assert.equal(temporal?.depends_on?.['temporal-schema']?.condition, 'service_completed_successfully');
  assert.equal(namespace?.depends_on?.temporal?.condition, 'service_healthy');

  // The server reads the same dynamic config file as the bed's server.
  const dynamicConfig = mountOf(temporal, path.relative(process.cwd(), DYNAMIC_CONFIG));
  assert.ok(dynamicConfig, 'the dynamic config is mounted');
  assert.equal(temporal?.environment?.DYNAMIC_CONFIG_FILE_PATH, dynamicConfig);
  const switches = parseYaml(await readFile(DYNAMIC_CONFIG, 'utf8')) as Record<string, { value: unknown }[]>;
  for (const key of [
    'system.enableDeploymentVersions',
    'frontend.workerVersioningWorkflowAPIs',
    'frontend.enableUpdateWorkflowExecution',
  ]) {
    assert.equal(switches[key]?.[0]?.value, true, `${key} is on`);
  }
});

test('every environment variable is documented in the README', async () => {
  const { envSchema } = await import('../config/env');
  const readme = await readFile('README.md', 'utf8');
  const undocumented = Object.keys(envSchema.shape).filter((name) => !readme.includes(`\`${name}\``));
  assert.deepEqual(undocumented, []);
});

test('a route names a built-in runbook or a loaded runbook file, by id or alias; an unknown name is exit 2', async () => {
  const { loadRunbookText, checkConfigRunbooks } = await import('../client/runbook-files');
  const { registerFileRunbooks } = await import('../runbooks');
  const routes = (runbooks: string[]) =>
    parseFileConfig(
      `routes:\n${runbooks.map((runbook, i) => `  - { name: r${i}, match: { alertname: A${i} }, runbook: ${runbook} }`).join('\n')}\n`,
      'firebreak.yaml',
    );
  // The schema alone takes any kebab-case name: the runbook files have not loaded yet.
  assert.match(configError(() => routes(['Not_A_Name'])).message, /routes\.0\.runbook: a runbook id or alias/);
  const fileConfig = routes(['oom-triage', 'p0-file', 'p0-incident-response', 'p0']);
  const env = { FIREBREAK_CONFIG: 'firebreak.yaml' };
  try {
    registerFileRunbooks([]);
    const missing = configError(() => checkConfigRunbooks(fileConfig, env));
    assert.match(missing.message, /^FIREBREAK_CONFIG: firebreak\.yaml is invalid:/);
    assert.match(missing.message, /routes\.1\.runbook: unknown runbook "p0-file"; one of p0-response, /);
    assert.match(missing.message, /routes\.2\.runbook: unknown runbook "p0-incident-response"/);
    assert.doesNotMatch(missing.message, /routes\.[03]\./, 'built-in ids and slash names are known');

    const file = path.resolve('runbooks/files/p0-incident-response.yaml');
    registerFileRunbooks(loadRunbookText(await readFile(file, 'utf8'), file).loaded);
    const resolved = checkConfigRunbooks(fileConfig, env);
    // Aliases become ids: logs, metrics and permissions speak ids.
    assert.deepEqual(
      resolved.routes.map((rule) => rule.runbook),
      ['oom-triage', 'p0-incident-response', 'p0-incident-response', 'p0-response'],
    );
    assert.equal(fileConfig.routes[1]!.runbook, 'p0-file', 'the parsed config is not changed');
  } finally {
    registerFileRunbooks([]);
  }
});

test('permissions grant a runbook file like a built-in one, by id or alias; an unknown name is exit 2', async () => {
  const { loadRunbookText, checkConfigRunbooks } = await import('../client/runbook-files');
  const { registerFileRunbooks } = await import('../runbooks');
  const { mayStart } = await import('../domain/access');
  const config = (start: string[], approve: string[]) =>
    parseFileConfig(
      'permissions:\n' +
        `  start:\n    - { runbooks: [${start.join(', ')}], who: ['*'] }\n` +
        `  approve:\n    - { runbooks: [${approve.join(', ')}], who: ['*'] }\n`,
      'firebreak.yaml',
    );
  // The schema alone takes any kebab-case name or `*`: the runbook files have not loaded yet.
  assert.match(
    configError(() => config(['Not_A_Name'], ["'*'"])).message,
    /permissions\.start\.0\.runbooks\.0: a runbook id or alias/,
  );
  const fileConfig = config(['rollback', 'p0-file'], ["'*'", 'p0-incident-response']);
  const env = { FIREBREAK_CONFIG: 'firebreak.yaml' };
  try {
    registerFileRunbooks([]);
    const missing = configError(() => checkConfigRunbooks(fileConfig, env));
    assert.equal(missing.exitCode, 2);
    assert.match(missing.message, /^FIREBREAK_CONFIG: firebreak\.yaml is invalid:/);
    assert.match(
      missing.message,
      /permissions\.start\.0\.runbooks\.1: unknown runbook "p0-file"; one of p0-response, /,
    );
    assert.match(missing.message, /permissions\.approve\.0\.runbooks\.1: unknown runbook "p0-incident-response"/);
    assert.doesNotMatch(missing.message, /runbooks\.0:/, 'a slash name and `*` are known');

    const file = path.resolve('runbooks/files/p0-incident-response.yaml');
    registerFileRunbooks(loadRunbookText(await readFile(file, 'utf8'), file).loaded);
    const resolved = checkConfigRunbooks(fileConfig, env);
    // Aliases become ids: the starters and the kernel compare the incident's runbook id.
    assert.deepEqual(resolved.permissions?.start?.[0]?.runbooks, ['emergency-rollback', 'p0-incident-response']);
    assert.deepEqual(resolved.permissions?.approve?.[0]?.runbooks, ['*', 'p0-incident-response']);
    assert.deepEqual(
      fileConfig.permissions?.start?.[0]?.runbooks,
      ['rollback', 'p0-file'],
      'the parsed config is unchanged',
    );
    const access = incidentPolicy(resolved).access;
    const scope = (runbook: string) => ({ runbook, namespaces: ['shop'] });
    assert.ok(mayStart(access, { id: 'U0X' }, scope('p0-incident-response')), 'the file runbook is granted');
    assert.ok(!mayStart(access, { id: 'U0X' }, scope('p0-response')), 'a built-in one not granted is refused');
  } finally {
    registerFileRunbooks([]);
  }
});

test('`firebreak doctor` refuses a grant of an unknown runbook as start-up does, naming the key (exit 2)', async () => {
  const { mkdtemp, writeFile, copyFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { runCli } = await import('../cli/cli');
  const { registerFileRunbooks } = await import('../runbooks');
  const dir = await mkdtemp(path.join(tmpdir(), 'firebreak-permission-runbooks-'));
  await copyFile('runbooks/files/p0-incident-response.yaml', path.join(dir, 'p0-incident-response.yaml'));
  const configFile = path.join(dir, 'firebreak.yaml');
  await writeFile(
    configFile,
    'permissions:\n  start:\n    - { runbooks: [p0-file, trace-loss], who: ["cli:alice"] }\n',
  );
  const env = { FIREBREAK_CONFIG: configFile, FIREBREAK_RUNBOOKS_DIR: dir, FIREBREAK_USER: 'alice' };
  try {
    let stderr = '';
    const code = await runCli(['doctor'], { stdout: () => undefined, stderr: (text) => (stderr += text), env });
    assert.equal(code, 2, stderr);
    assert.match(
      stderr,
      /firebreak\.yaml is invalid:\n {2}permissions\.start\.0\.runbooks\.1: unknown runbook "trace-loss"/,
    );
    assert.doesNotMatch(stderr, /runbooks\.0:/, "the file runbook's alias is known");
  } finally {
    registerFileRunbooks([]);
  }
});

test('start-up refuses a route to a runbook file that failed validation, naming the route (exit 2)', async () => {
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { startFirebreak } = await import('../worker/start');
  const { createLogger } = await import('../config/logger');
  const { registerFileRunbooks } = await import('../runbooks');
  const dir = await mkdtemp(path.join(tmpdir(), 'firebreak-route-runbooks-'));
  await writeFile(path.join(dir, 'broken.yaml'), 'id: broken\ntitle: Broken\nsteps:\n  - id: a\n    frobnicate: {}\n');
  const configFile = path.join(dir, 'firebreak.yaml');
  await writeFile(configFile, 'routes:\n  - { match: { alertname: Broken }, runbook: broken }\n');
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } });
  try {
    await assert.rejects(
      startFirebreak(
        { FIREBREAK_CONFIG: configFile, FIREBREAK_RUNBOOKS_DIR: dir, FIREBREAK_DATA_DIR: path.join(dir, 'data') },
        logger,
      ),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.exitCode, 2);
        assert.match(err.message, /firebreak\.yaml is invalid:\n {2}routes\.0\.runbook: unknown runbook "broken"/);
        return true;
      },
    );
    // The skipped file was said first, so the reason is next to the refusal.
    assert.match(lines.join(''), /Runbook file skipped: .*broken\.yaml:5/);
  } finally {
    registerFileRunbooks([]);
  }
});
