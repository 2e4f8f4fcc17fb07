/**
 * What the command registry and `firebreak --help` need, and nothing heavier: the streams, the
 * command shape, argument parsing and the two errors that set exit codes. Kept free of Temporal
 * and config imports so the CLI answers `--help` without loading them (cli/context.ts does).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { CommandContext } from './context';

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Aborted when the user presses Ctrl-C: `run` stops following, the incident keeps running. */
  interrupt?: AbortSignal;
}

/** Bad flags or arguments: exit 2 with the command's usage. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
  }
}

/** The command ran and failed (Temporal down, incident not found, decision refused): exit 1. */
export class CommandFailed extends Error {}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(ctx: CommandContext, args: ParsedArgs): Promise<number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''), command.usage);
  }
}
