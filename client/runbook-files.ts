/**
 * Runbook files on disk, for the worker's start-up, the ingress and the CLI: every `*.yaml`/`*.yml`
 * of FIREBREAK_RUNBOOKS_DIR (else the config file's `runbooks.dir`), each validated on its own
 * (runbooks/files/validate.ts). A file that fails is reported (file:line) and skipped; the others
 * load. A directory that does not exist is a configuration error (exit 2). Each runbook keeps the
 * sha256 of its file: the hash travels with the definition into every incident started from it
 * (pinned) and the postmortem names it.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, type Env } from '../config/env';
import type { PermissionsConfig, RunbookCatalog } from '../config/access';
import type { FileConfig } from '../config/file';
import { resolveConfigRunbooks, type RouteRule } from '../config/routes';
import { RUNBOOKS, allRunbooks, findRunbook, registerFileRunbooks } from '../runbooks';
import type { FileRunbookSource } from '../runbooks/files/schema';
import { parseRunbookText, type RunbookIssue } from '../runbooks/files/validate';

export type LoadedRunbookFile = FileRunbookSource;

export interface RunbookFilesResult {
  loaded: LoadedRunbookFile[];
  issues: RunbookIssue[];
}

export const RUNBOOKS_DIR_VARIABLE = 'FIREBREAK_RUNBOOKS_DIR';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Validates one file's text; `reserved` are names already taken (built-in ids and aliases). */
export function loadRunbookText(text: string, file: string): RunbookFilesResult {
  const { runbook, issues } = parseRunbookText(text, file);
  return runbook ? { loaded: [{ file, hash: sha256(text), definition: runbook }], issues } : { loaded: [], issues };
}

export async function loadRunbookFiles(files: string[]): Promise<RunbookFilesResult> {
  const result: RunbookFilesResult = { loaded: [], issues: [] };
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      result.issues.push({ file, line: 1, column: 1, message: `cannot read: ${(err as Error).message}` });
      continue;
    }
    const one = loadRunbookText(text, file);
    result.loaded.push(...one.loaded);
    result.issues.push(...one.issues);
  }
  return result;
}

/** The directory's runbook files, in name order; throws ConfigError when it is not a directory. */
export async function runbookFilesIn(dir: string, source = RUNBOOKS_DIR_VARIABLE): Promise<string[]> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new ConfigError(`${source}: ${dir} is not a directory`);
  const names = (await readdir(dir)).filter((name) => /\.ya?ml$/.test(name)).sort();
  return names.map((name) => path.join(dir, name));
}

/**
 * Loads the directory and drops runbooks whose id or alias is taken (by a built-in runbook or an
 * earlier file): each such file is an issue, never a silent override.
 */
export async function loadRunbookDir(
  dir: string,
  reserved: ReadonlySet<string>,
  source = RUNBOOKS_DIR_VARIABLE,
): Promise<RunbookFilesResult> {
  const { loaded, issues } = await loadRunbookFiles(await runbookFilesIn(dir, source));
  const taken = new Set(reserved);
  const kept: LoadedRunbookFile[] = [];
  for (const entry of loaded) {
    const names = [entry.definition.id, ...(entry.definition.aliases ?? [])];
    const clash = names.find((name) => taken.has(name));
    if (clash) {
      issues.push({
        file: entry.file,
        line: 1,
        column: 1,
        message: `runbook name ${clash} is already taken; file skipped`,
      });
      continue;
    }
    names.forEach((name) => taken.add(name));
    kept.push(entry);
  }
  return { loaded: kept, issues };
}

export interface RunbookDirSetting {
  dir: string;
  /** What named it, for the configuration error. */
  source: string;
}

export function runbookDirSetting(
  env: Pick<Env, 'FIREBREAK_RUNBOOKS_DIR' | 'FIREBREAK_CONFIG'>,
  config?: Pick<FileConfig, 'runbooks'>,
): RunbookDirSetting | undefined {
  if (env.FIREBREAK_RUNBOOKS_DIR)
    return { dir: path.resolve(env.FIREBREAK_RUNBOOKS_DIR), source: RUNBOOKS_DIR_VARIABLE };
  const dir = config?.runbooks?.dir;
  if (!dir) return undefined;
  const base = env.FIREBREAK_CONFIG ? path.dirname(path.resolve(env.FIREBREAK_CONFIG)) : process.cwd();
  return { dir: path.resolve(base, dir), source: `${env.FIREBREAK_CONFIG ?? 'config'}: runbooks.dir` };
}

/** Loads and registers the configured runbook files; no directory configured = none. */
export async function loadConfiguredRunbooks(
  env: Pick<Env, 'FIREBREAK_RUNBOOKS_DIR' | 'FIREBREAK_CONFIG'>,
  config?: Pick<FileConfig, 'runbooks'>,
): Promise<RunbookFilesResult> {
  const setting = runbookDirSetting(env, config);
  if (!setting) {
    registerFileRunbooks([]);
    return { loaded: [], issues: [] };
  }
  const reserved = new Set(RUNBOOKS.flatMap((entry) => [entry.id, entry.slashName]));
  const result = await loadRunbookDir(setting.dir, reserved, setting.source);
  registerFileRunbooks(result.loaded);
  return result;
}

/** The runbooks registered now: built-in and the files that loaded (call after loadConfiguredRunbooks). */
export function registeredCatalog(): RunbookCatalog {
  return { find: findRunbook, names: allRunbooks().map((entry) => entry.id) };
}

/**
 * The config's runbook names — alert routes and `permissions` — checked against the runbooks
 * registered now (built-in and the files that loaded) and resolved to ids: call after
 * loadConfiguredRunbooks. Throws ConfigError (exit 2) naming the key of an unknown name.
 */
export function checkConfigRunbooks<T extends { routes: RouteRule[]; permissions?: PermissionsConfig }>(
  config: T,
  env: Pick<Env, 'FIREBREAK_CONFIG'>,
): T {
  return resolveConfigRunbooks(config, registeredCatalog(), env.FIREBREAK_CONFIG ?? 'config');
}
