/**
 * Runs one of the bed's build scripts (test/kube/build.sh, test/temporal-server/build.sh,
 * test/otelcol/build.sh): instant when its output is cached in ~/.cache/firebreak, minutes when
 * cold. Progress lines are passed on as they come (Go's download chatter aside); the script's last
 * line on stdout is what it built.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD_TIMEOUT_MS = 3 * 60 * 60_000;

/**
 * Runs `script` (relative to the repo root) and returns the path it printed last, after checking
 * that `expect` (relative to that path) exists.
 */
export async function runBuildScript(script: string, expect: string, log: (msg: string) => void): Promise<string> {
  const started = Date.now();
  const child = spawn('bash', [path.join(REPO_ROOT, script)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line && !line.startsWith('go: downloading')) log(line);
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), BUILD_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  if (pending) log(pending);
  const built = stdout.trim().split('\n').pop();
  if (code !== 0 || !built || !existsSync(path.join(built, expect))) {
    throw new Error(`${script} failed (exit ${code}); its output is above`);
  }
  log(`${script}: ready in ${Date.now() - started} ms (${built})`);
  return built;
}
