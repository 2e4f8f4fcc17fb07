/**
 * Yields the path of a `temporal` CLI v1.5.1 binary, the dev server Firebreak embeds.
 *
 * Order: $FIREBREAK_TEMPORAL_BIN, a `temporal` on PATH reporting 1.5.x, a cached build under
 * ~/.cache/firebreak/, a fresh `go install` into that cache, and last (a machine with internet but
 * no Go) the Temporal SDK's own download. Idempotent, and instant once cached.
 *
 * Run directly (`node --import tsx scripts/temporal-bin.ts`) it prints the path.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const TEMPORAL_CLI_VERSION = '1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';
const VERSION_LDFLAG = `-X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION}`;

export function firebreakCacheDir(): string {
  return (
    process.env.FIREBREAK_CACHE_DIR ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'firebreak')
  );
}

export function cachedTemporalPath(): string {
  return path.join(firebreakCacheDir(), `temporal-v${TEMPORAL_CLI_VERSION}`, 'temporal');
}

async function reportedVersion(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync(binary, ['--version'], { timeout: 15_000 });
    return /temporal version (\S+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

async function goInstall(log: (line: string) => void): Promise<string> {
  const go = await onPath('go');
  if (!go) throw new Error('no Go toolchain on PATH');
  const target = cachedTemporalPath();
  const staging = `${path.dirname(target)}.partial`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  log(
    `Building the Temporal CLI v${TEMPORAL_CLI_VERSION} from its Go module (first time only; takes a few minutes)...`,
  );
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(go, ['install', `-ldflags=${VERSION_LDFLAG}`, `${MODULE}@v${TEMPORAL_CLI_VERSION}`], {
      // The same module and build caches as the bed's other Go builds (scripts/go-cache.sh), so
      // the Temporal server build reuses what this one downloaded and compiled.
      env: {
        ...process.env,
        GOPATH: path.join(firebreakCacheDir(), 'go'),
        GOMODCACHE: path.join(firebreakCacheDir(), 'go/pkg/mod'),
        GOCACHE: path.join(firebreakCacheDir(), 'go/cache'),
        GOBIN: staging,
        GOFLAGS: '-trimpath',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go install exited with ${code}`))));
  });
  // Publish atomically so a build killed half-way is never mistaken for a cached binary.
  await rm(path.dirname(target), { recursive: true, force: true });
  await rename(staging, path.dirname(target));
  log(`Temporal CLI built in ${((Date.now() - started) / 1000).toFixed(0)} s: ${target}`);
  return target;
}

async function sdkDownload(log: (line: string) => void): Promise<string> {
  // The SDK downloads the CLI when it starts an ephemeral server; start one into our cache
  // directory, stop it, and keep the binary it left there.
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const downloadDir = path.join(firebreakCacheDir(), 'sdk-download');
  await mkdir(downloadDir, { recursive: true });
  log('No Go toolchain: letting the Temporal SDK download the CLI...');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'cached-download', downloadDir } },
  });
  await env.teardown();
  const found = (await readdir(downloadDir, { recursive: true })).find((name) => /(^|\/)temporal(\.exe)?$/.test(name));
  if (!found) throw new Error(`the SDK download left no temporal binary in ${downloadDir}; set FIREBREAK_TEMPORAL_BIN`);
  return path.join(downloadDir, found);
}

/** Returns the path of a usable temporal CLI, building it if needed. */
export async function ensureTemporalBinary(log: (line: string) => void = (l) => console.error(l)): Promise<string> {
  const fromEnv = process.env.FIREBREAK_TEMPORAL_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`FIREBREAK_TEMPORAL_BIN points to a missing file: ${fromEnv}`);
    return fromEnv;
  }
  const cached = cachedTemporalPath();
  if (existsSync(cached)) return cached;
  const systemBinary = await onPath('temporal');
  if (systemBinary) {
    const version = await reportedVersion(systemBinary);
    if (version?.startsWith('1.5.')) return systemBinary;
  }
  if (await onPath('go')) return goInstall(log);
  return sdkDownload(log);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  ensureTemporalBinary()
    .then((binary) => console.log(binary))
    .catch((err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    });
}
