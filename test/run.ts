/**
 * `npm test`: lint, typecheck, then every test file against ONE shared test bed — a real Temporal
 * dev server, a real Kubernetes control plane, a real Alertmanager and Prometheus — started once
 * for the run and stopped at the end, whatever happens.
 *
 *   npm test                          everything, on the default bed
 *   npm test -- test/smoke.test.ts    chosen files (the bed components still start)
 *   npm test -- --bed temporal        only these bed components
 *   npm test -- --bed default,temporal-postgres   the default bed plus an opt-in component
 *   npm test -- --no-lint             skip lint and typecheck
 *   npm run bench                     the benchmarks (bench/*.ts) on the same bed, one at a time
 *
 * FIREBREAK_TEST_BED=<list> does what --bed does (the flag wins). A list names components, plus
 * `default` (the components marked so below) and `all`. Opt-in components (temporal-postgres)
 * cost a cold server build and 10-15 s of start-up the default run does not need; tests of a
 * component that is not started skip, saying so. SMTP and the OpenTelemetry Collector start in
 * under a second warm, so they are in the default bed.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BedComponent, BedStarter } from './bed/component';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
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
  {
    name: 'temporal-postgres',
    byDefault: false,
    provision: 'postgresql',
    load: async () => (await import('./bed/temporal-postgres')).startTemporalPostgres,
  },
];

/** The components a `--bed`/FIREBREAK_TEST_BED list names, in start order; throws on an unknown name. */
function chooseBed(list: string | undefined): BedEntry[] {
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
  const lint = !args.includes('--no-lint') && !bench;
  const bedIndex = args.indexOf('--bed');
  const bedList = bedIndex >= 0 ? (args[bedIndex + 1] ?? '') : process.env.FIREBREAK_TEST_BED;
  let chosenBed: BedEntry[];
  try {
    chosenBed = chooseBed(bedList);
  } catch (err) {
    log((err as Error).message);
    return 2;
  }
  const files = args.filter((arg, i) => arg.endsWith('.ts') && args[i - 1] !== '--bed');
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
    log(`bed: ${chosenBed.map((entry) => entry.name).join(', ') || '(none)'}`);
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
        files.length > 0
          ? files
          : (await readdir(path.join(ROOT, 'bench'))).filter((f) => f.endsWith('.ts')).map((f) => `bench/${f}`);
      let failures = 0;
      for (const file of benchFiles.sort()) {
        log(`benchmark ${file}`);
        if ((await run(process.execPath, ['--import', 'tsx', file], env)) !== 0) failures += 1;
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
    log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
    const tap = await readFile(tapPath, 'utf8').catch(() => '');
    const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
    const summary = `${count('pass')} passed, ${count('fail')} failed`;
    const skipped = count('skipped') + count('todo');
    process.stdout.write(`${summary}${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
    return code !== 0 || count('pass') === 0 ? code || 1 : 0;
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
