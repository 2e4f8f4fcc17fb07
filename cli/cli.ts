/**
 * The `firebreak` command line, as a function of its arguments and streams so tests run it
 * in-process against the real dev server. Exit codes: 0 ok, 1 failed, 2 usage or configuration.
 */
import { COMMANDS } from './commands';
import { CommandFailed, UsageError, parseCommandArgs, type CliIO } from './command';
import type { CommandContext } from './context';

export type { CliIO } from './command';

export function mainUsage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length), 'start'.length);
  const lines = [
    'usage: firebreak <command> [options]',
    '',
    'Commands:',
    `  ${'start'.padEnd(width)}  Run the engine: embedded Temporal dev server (unless TEMPORAL_ADDRESS), worker, ingress`,
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Every command takes --help; most take --json for machine-readable output.',
    'Temporal: TEMPORAL_ADDRESS, else 127.0.0.1:$FIREBREAK_TEMPORAL_PORT (7233). Actor: cli:$FIREBREAK_USER or your login.',
    'Exit codes: 0 ok, 1 failed, 2 usage or configuration error.',
  ];
  return lines.join('\n');
}

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? await COMMANDS.find((command) => command.name === rest[0])?.load() : undefined;
    (name ? io.stdout : io.stderr)(`${topic ? `${topic.summary}\nusage: ${topic.usage}` : mainUsage()}\n`);
    return name ? 0 : 2;
  }
  const entry = COMMANDS.find((candidate) => candidate.name === name);
  if (!entry) {
    io.stderr(`firebreak: unknown command ${name}\n\n${mainUsage()}\n`);
    return 2;
  }
  const command = await entry.load();
  let ctx: CommandContext | undefined;
  try {
    const args = parseCommandArgs(command, rest);
    if (args.values.help) {
      io.stdout(`${command.summary}\nusage: ${command.usage}\n`);
      return 0;
    }
    const { CommandContext } = await import('./context');
    ctx = new CommandContext(io, args.values.json === true);
    return await command.run(ctx, args);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`firebreak ${command.name}: ${err.message}\nusage: ${err.usage ?? command.usage}\n`);
      return 2;
    }
    // Only a command that read the environment can throw it, so config/env.ts is loaded by then.
    const { ConfigError } = await import('../config/env');
    if (err instanceof ConfigError) {
      io.stderr(`${err.message}\n`);
      return 2;
    }
    if (err instanceof CommandFailed) {
      io.stderr(`firebreak ${command.name}: ${err.message}\n`);
      return 1;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(`firebreak ${command.name}: ${message}\n`);
    return 1;
  } finally {
    await ctx?.close();
  }
}
