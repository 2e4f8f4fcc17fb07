/**
 * The `firebreak` CLI run in the test's own process, as the CLI tests drive it: the arguments, the
 * environment it sees (only what is given), its exit code and what it printed on stdout and stderr.
 */
import { runCli, type CliIO } from '../cli/cli';

export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCliCaptured(
  argv: string[],
  env: NodeJS.ProcessEnv,
  options: Pick<CliIO, 'interrupt'> = {},
): Promise<CliOutcome> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env,
    ...options,
  });
  return { code, stdout, stderr };
}
