/**
 * `npm test`: lint, typecheck, then every test file against ONE shared test bed — a real Temporal
 * dev server, a real Kubernetes control plane, a real Alertmanager and Prometheus — started once
 * for the run and stopped at the end, whatever happens.
 *
 *   npm test                          everything, on the default bed
 *   npm test -- test/smoke.test.ts    chosen files (the bed components still start)
 *   npm test -- --bed temporal        only these bed components
 *   npm test -- --bed default,temporal-postgres   the default bed plus an opt-in component
 *   npm test -- --temporal postgres   the bed's Temporal is the PostgreSQL-backed cluster, not the dev server
 *   npm test -- --suite postgres      a named suite (SUITES below): its bed, files and benchmarks
 *   npm run test:postgres             the same as `npm test -- --suite postgres`
 *   npm test -- --no-lint             skip lint and typecheck
 *   npm run bench                     the benchmarks (bench/*.ts) on the same bed, one at a time
 *   npm run bench -- bench/alerts.ts --notifications 3000   one benchmark; the runner's flags
 *                                     (--bed, --temporal, --suite, --no-lint) stay here, the rest go to it
 *
 * FIREBREAK_TEST_BED=<list> does what --bed does (the flag wins). A list names components, plus
 * `default` (the components marked so below) and `all`. Opt-in components (temporal-postgres)
 * cost a cold server build and 10-15 s of start-up the default run does not need; tests of a
 * component that is not started skip, saying so. SMTP and the OpenTelemetry Collector start in
 * under a second warm, so they are in the default bed.
 *
 * FIREBREAK_TEST_TEMPORAL=postgres does what `--temporal postgres` does: the bed component
 * `temporal` is then temporal-postgres (the server built from its Go module, on PostgreSQL), and
 * FIREBREAK_TEST_TEMPORAL_ADDRESS/_NAMESPACE — what every test and benchmark connects to — point at
 * it; FIREBREAK_TEST_TEMPORAL_KIND says which one it is (`dev` or `postgres`).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BedComponent, BedStarter } from './bed/component';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Modules under bench/ that only the benchmarks import: `npm run bench` does not run them. */
const BENCH_SUPPORT_MODULES = new Set(['support.ts']);
/**
 * The longest test file (the chaos CI subset on a loaded machine) takes about 6 minutes. The node
 * test runner applies the timeout to each file's process as a whole: FIREBREAK_TEST_TIMEOUT_MINUTES
 * raises it for runs that are long by design (`npm run chaos`, the full sweep).
 */
const TEST_TIMEOUT_MS = Number(process.env.FIREBREAK_TEST_TIMEOUT_MINUTES ?? 15) * 60_000;

interface BedEntry {
  name: string;
  /** Started by a plain `npm test`. */
  byDefault: boolean;
  /** The switch of scripts/provision-test-deps.sh that installs its Debian packages. */
  provision?: string;
  load: () => Promise<BedStarter>;
}

/** The explicit list of bed components, in start order (a component sees the env of those before it). */
const BED: BedEntry[] = [
  { name: 'temporal', byDefault: true, load: async () => (await import('./bed/temporal')).startTemporal },
  { name: 'kube', byDefault: true, load: async () => (await import('./bed/kube')).startKube },
  {
    name: 'prometheus',
    byDefault: true,
    provision: 'prometheus',
    load: async () => (await import('./bed/prometheus')).startPrometheus,
  },
  {
    name: 'alertmanager',
    byDefault: true,
    provision: 'alertmanager',
    load: async () => (await import('./bed/alertmanager')).startAlertmanager,
  },
  { name: 'smtp', byDefault: true, provision: 'smtp', load: async () => (await import('./bed/smtp')).startSmtp },
  { name: 'otelcol', byDefault: true, load: async () => (await import('./bed/otelcol')).startOtelcol },
  { name: 'helm', byDefault: true, load: async () => (await import('./bed/helm')).startHelm },
  {
    name: 'temporal-postgres',
    byDefault: false,
    provision: 'postgresql',
    load: async () => (await import('./bed/temporal-postgres')).startTemporalPostgres,
  },
];

/** What the bed's Temporal is: the dev server on SQLite (`dev`), or the cluster on PostgreSQL. */
type TemporalKind = 'dev' | 'postgres';

/**
 * The bed's Temporal on PostgreSQL: the temporal-postgres component, exported also as THE
 * Temporal every test connects to. Its search attributes are still left to Firebreak's own
 * start-up (prepareNamespace), as on any external cluster.
 */
const POSTGRES_AS_BED_TEMPORAL: BedEntry = {
  name: 'temporal-postgres',
  byDefault: true,
  provision: 'postgresql',
  load: async () => {
    const { startTemporalPostgres } = await import('./bed/temporal-postgres');
    return async (opts) => {
      const component = await startTemporalPostgres(opts);
      return {
        ...component,
        env: {
          ...component.env,
          FIREBREAK_TEST_TEMPORAL_ADDRESS: component.env.FIREBREAK_TEST_TEMPORAL_PG_ADDRESS!,
          FIREBREAK_TEST_TEMPORAL_NAMESPACE: component.env.FIREBREAK_TEST_TEMPORAL_PG_NAMESPACE!,
          FIREBREAK_TEST_TEMPORAL_PID: component.env.FIREBREAK_TEST_TEMPORAL_PG_PID!,
          FIREBREAK_TEST_TEMPORAL_KIND: 'postgres',
        },
      };
    };
  },
};

/**
 * Named suites: a bed, test files and benchmarks that run together as one CI job
 * (`npm test -- --suite <name>`). A suite does not lint: the main job does.
 */
const SUITES: Record<
  string,
  { temporal: TemporalKind; bed: string; files: string[]; bench: { file: string; args: string[] }[] }
> = {
  // Temporal on PostgreSQL (issue 20): two runbooks end to end, a server SIGKILL mid-incident, the
  // cluster's own checks, and the alert burst benchmark at a CI size.
  postgres: {
    temporal: 'postgres',
    bed: 'temporal,kube,prometheus,alertmanager',
    files: [
      'test/bed-temporal-postgres.test.ts',
      'test/e2e/p0-response.test.ts',
      'test/e2e/emergency-rollback.test.ts',
      'test/e2e/server-restart.test.ts',
    ],
    bench: [
      {
        file: 'bench/alerts.ts',
        // 8 in flight: at 32 on a loaded 2-core machine many signals passed the ingress's 5 s
        // Temporal deadline and were answered 503 (by design: the sender retries; the benchmark
        // re-sends them as Alertmanager does and reports them).
        args: [
          '--notifications',
          '2000',
          '--groups',
          '50',
          '--concurrency',
          '8',
          '--floor-notifications',
          '500',
          '--new-groups',
          '50',
        ],
      },
    ],
  },
};

/** The value after `--name` on the command line, else the environment variable's. */
function option(args: string[], name: string, envName: string): string | undefined {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? (args[index + 1] ?? '') : process.env[envName];
}

/** The components a `--bed`/FIREBREAK_TEST_BED list names, in start order; throws on an unknown name. */
function chooseBed(list: string | undefined, temporal: TemporalKind = 'dev'): BedEntry[] {
  const chosen = chooseComponents(list);
  if (temporal === 'dev') return chosen;
  // The cluster on PostgreSQL takes the dev server's place (started once if both are named), in
  // temporal-postgres's slot: after Prometheus, which then scrapes it. No component needs Temporal.
  if (!chosen.some((entry) => entry.name === 'temporal' || entry.name === 'temporal-postgres')) return chosen;
  const order = (entry: BedEntry) => BED.findIndex((e) => e.name === entry.name);
  return [
    ...chosen.filter((entry) => entry.name !== 'temporal' && entry.name !== 'temporal-postgres'),
    POSTGRES_AS_BED_TEMPORAL,
  ].sort((a, b) => order(a) - order(b));
}

function chooseComponents(list: string | undefined): BedEntry[] {
  if (list === undefined) return BED.filter((entry) => entry.byDefault);
  const names = new Set(
    list
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  );
  const unknown = [...names].filter(
    (name) => name !== 'default' && name !== 'all' && !BED.some((e) => e.name === name),
  );
  if (unknown.length > 0) {
    throw new Error(
      `unknown bed component ${unknown.join(', ')}: choose from ${BED.map((e) => e.name).join(', ')}, default, all`,
    );
  }
  return BED.filter((entry) => names.has('all') || names.has(entry.name) || (names.has('default') && entry.byDefault));
}

function log(line: string): void {
  process.stderr.write(`[test-bed] ${line}\n`);
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function findTestFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)))
    .filter((file) => !file.includes('node_modules'))
    .sort();
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const bench = args.includes('--bench');
  const suiteName = option(args, 'suite', 'FIREBREAK_TEST_SUITE');
  const suite = suiteName === undefined ? undefined : SUITES[suiteName];
  if (suiteName !== undefined && !suite) {
    log(`unknown suite ${suiteName}: choose from ${Object.keys(SUITES).join(', ')}`);
    return 2;
  }
  const lint = !args.includes('--no-lint') && !bench && !suite;
  const temporal = option(args, 'temporal', 'FIREBREAK_TEST_TEMPORAL') ?? suite?.temporal ?? 'dev';
  if (temporal !== 'dev' && temporal !== 'postgres') {
    log(`unknown Temporal ${temporal}: choose dev (the dev server on SQLite) or postgres`);
    return 2;
  }
  let chosenBed: BedEntry[];
  try {
    chosenBed = chooseBed(option(args, 'bed', 'FIREBREAK_TEST_BED') ?? suite?.bed, temporal);
  } catch (err) {
    log((err as Error).message);
    return 2;
  }
  const valued = new Set(['--bed', '--suite', '--temporal']);
  const named = args.filter((arg, i) => arg.endsWith('.ts') && !valued.has(args[i - 1] ?? ''));
  const files = named.length > 0 ? named : (suite?.files ?? []);
  const started = Date.now();

  if (lint) {
    log('lint (eslint + prettier) and typecheck (tsc)...');
    const npx = 'npx';
    if ((await run(npx, ['tsc', '--noEmit', '-p', 'tsconfig.json'])) !== 0) return fail('typecheck failed');
    if ((await run(npx, ['eslint', '.'])) !== 0) return fail('eslint failed');
    if ((await run(npx, ['prettier', '--check', '--log-level', 'warn', '.'])) !== 0) return fail('prettier failed');
  }

  const packages = chosenBed.flatMap((entry) => (entry.provision ? [entry.provision] : []));
  if (packages.length > 0 && (await run('bash', ['scripts/provision-test-deps.sh', ...packages])) !== 0) {
    return fail('installing test-bed packages failed');
  }

  const workRoot = await mkdtemp(path.join(tmpdir(), 'firebreak-test-'));
  const running: { name: string; component: BedComponent }[] = [];
  const stopAll = async () => {
    for (const { name, component } of running.reverse()) {
      try {
        await component.stop();
      } catch (err) {
        log(`stopping ${name} failed: ${String(err)}`);
      }
    }
    running.length = 0;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the test bed`);
    void stopAll().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const env: NodeJS.ProcessEnv = { ...process.env, FIREBREAK_TEST_WORK_DIR: workRoot };
    log(`bed: ${chosenBed.map((entry) => entry.name).join(', ') || '(none)'}${suite ? ` (suite ${suiteName})` : ''}`);
    for (const entry of chosenBed) {
      const t0 = Date.now();
      const start = await entry.load();
      const workDir = path.join(workRoot, entry.name);
      await mkdir(workDir, { recursive: true });
      const component = await start({ workDir, log: (msg) => log(`${entry.name}: ${msg}`), env });
      running.push({ name: entry.name, component });
      Object.assign(env, component.env);
      log(`${entry.name} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }

    // The compiled CLI, current with the sources: tests and benchmarks run `bin/firebreak.mjs` as an
    // installed checkout does, not its tsx fallback for edited sources.
    if ((await run(process.execPath, [path.join(ROOT, 'scripts/build-cli.mjs')])) !== 0) {
      throw new Error('compiling the CLI (scripts/build-cli.mjs) failed');
    }

    // One bundle of the real workflows for every test file, instead of one webpack run per file.
    const bundlePath = path.join(workRoot, 'workflow-bundle.js');
    const t0 = Date.now();
    // The production build (worker/bundle.ts): the same workflows and workflow interceptors.
    const { buildWorkflowBundle } = await import('../worker/bundle');
    await writeFile(bundlePath, await buildWorkflowBundle());
    env.FIREBREAK_TEST_WORKFLOW_BUNDLE = bundlePath;
    log(`workflow bundle built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    if (bench) {
      const benchFiles =
        named.length > 0
          ? named
          : (await readdir(path.join(ROOT, 'bench')))
              // bench/support.ts is the benchmarks' shared helpers, not a benchmark.
              .filter((f) => f.endsWith('.ts') && !BENCH_SUPPORT_MODULES.has(f))
              .map((f) => `bench/${f}`);
      // Whatever is not the runner's own goes to each benchmark: `npm run bench -- bench/alerts.ts --notifications 3000`.
      const benchArgs = args.filter(
        (arg, i) =>
          !(arg.endsWith('.ts') && !valued.has(args[i - 1] ?? '')) &&
          !valued.has(arg) &&
          !valued.has(args[i - 1] ?? '') &&
          arg !== '--bench' &&
          arg !== '--no-lint',
      );
      let failures = 0;
      for (const file of benchFiles.sort()) {
        log(`benchmark ${file}${benchArgs.length > 0 ? ` ${benchArgs.join(' ')}` : ''}`);
        if ((await run(process.execPath, ['--import', 'tsx', file, ...benchArgs], env)) !== 0) failures += 1;
      }
      log(`${benchFiles.length - failures} benchmarks passed, ${failures} failed`);
      return failures === 0 ? 0 : 1;
    }

    const testFiles = files.length > 0 ? files : await findTestFiles(path.join(ROOT, 'test'));
    log(`running ${testFiles.length} test files`);
    // A TAP copy of the results beside the spec output, for the plain summary line at the end.
    const tapPath = path.join(workRoot, 'results.tap');
    const code = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=tap',
        `--test-reporter-destination=${tapPath}`,
        '--test-concurrency=2',
        // Every test stops by itself: one that hangs fails, named, instead of holding the run.
        `--test-timeout=${TEST_TIMEOUT_MS}`,
        ...testFiles,
      ],
      env,
    );
    log(`tests done at ${((Date.now() - started) / 1000).toFixed(0)} s`);
    const tap = await readFile(tapPath, 'utf8').catch(() => '');
    const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
    const summary = `${count('pass')} passed, ${count('fail')} failed`;
    const skipped = count('skipped') + count('todo');
    const testsCode = code !== 0 || count('pass') === 0 ? code || 1 : 0;
    // A suite's benchmarks run on the same bed after its tests, each passing or failing on its own checks.
    let benchFailures = 0;
    for (const { file, args: benchArgs } of named.length > 0 ? [] : (suite?.bench ?? [])) {
      log(`benchmark ${file} ${benchArgs.join(' ')}`);
      if ((await run(process.execPath, ['--import', 'tsx', file, ...benchArgs], env)) !== 0) benchFailures += 1;
    }
    const benchSummary =
      suite && named.length === 0
        ? `; benchmarks: ${suite.bench.length - benchFailures} passed, ${benchFailures} failed`
        : '';
    log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
    process.stdout.write(`${summary}${skipped > 0 ? `, ${skipped} skipped` : ''}${benchSummary}\n`);
    return testsCode || (benchFailures > 0 ? 1 : 0);
  } finally {
    await stopAll();
    if (!process.env.FIREBREAK_TEST_KEEP) await rm(workRoot, { recursive: true, force: true });
  }
}

function fail(message: string): number {
  log(message);
  return 1;
}

main()
  .then((code) => process.exit(code))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
