/**
 * What every CLI command shares: output streams, argument parsing with usage errors, the Temporal
 * connection (with a message that says what to do when it is down), the acting user, and finding
 * an incident by workflow id or incident id.
 */
import os from 'node:os';
import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import type { AccessAction } from '../common/access';
import type { IncidentPolicy } from '../common/incident';
import { connectionIdentity } from '../client/identity';
import { referencedGroups } from '../domain/access';
import type { RefusalNotice } from '../domain/messages';
import type { WorkflowUpdateFailedError } from '@temporalio/client';
// Single modules, not the packages' indexes: a command that only reads (postmortem) never loads the
// SDK's client, its gRPC library or its protobuf root — the messages, refusals, the incident look-up
// and the client itself load when a command uses them.
import { WorkflowNotFoundError } from '@temporalio/common/lib/errors';
import { ApplicationFailure } from '@temporalio/common/lib/failure';
import { ConfigError, parseEnv, type Env } from '../config/env';
import type { Actor } from '../common/types';
import { connectClient, connectionSettings } from '../client/connection';
import type { HistorySource } from '../postmortem';
import { CommandFailed, UsageError, type CliIO } from './command';

export { CommandFailed, UsageError, parseCommandArgs, type CliIO, type Command, type ParsedArgs } from './command';

/** How long a refused command waits to have its refusal logged before it answers anyway. */
const REFUSAL_LOG_TIMEOUT_MS = 5_000;

export class CommandContext {
  private connected?: Promise<{ client: Client; connection: Connection }>;
  private parsedEnv?: Env;
  private resolvedActor?: Promise<Actor>;
  private loadedPolicy?: Promise<IncidentPolicy>;
  private readonly readers: { close(): void }[] = [];

  constructor(
    readonly io: CliIO,
    readonly json: boolean,
  ) {}

  get env(): Env {
    this.parsedEnv ??= parseEnv(this.io.env);
    return this.parsedEnv;
  }

  /** TEMPORAL_ADDRESS, or the embedded dev server `firebreak start` runs on this machine. */
  get address(): string {
    return this.env.TEMPORAL_ADDRESS ?? `127.0.0.1:${this.env.FIREBREAK_TEMPORAL_PORT}`;
  }

  out(line = ''): void {
    this.io.stdout(`${line}\n`);
  }

  err(line: string): void {
    this.io.stderr(`${line}\n`);
  }

  printJson(value: unknown): void {
    this.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  }

  async client(): Promise<Client> {
    this.connected ??= connectClient(this.env, this.address).catch((err: unknown) => {
      // An unreadable TLS file is the user's configuration to fix (exit 2), not an unreachable server.
      throw err instanceof ConfigError ? err : this.unreachable(err);
    });
    return (await this.connected).client;
  }

  /**
   * Where `firebreak postmortem` reads a history: the lean gRPC reader (postmortem/grpc.ts) with the
   * client's own settings, or the SDK's client behind an HTTP proxy (which only it knows how to cross).
   */
  async historySource(): Promise<Client | HistorySource> {
    const { GrpcHistoryReader, proxyConfigured } = await import('../postmortem/grpc');
    if (proxyConfigured(this.io.env)) return this.client();
    const settings = await connectionSettings(this.env, this.address);
    const reader = new GrpcHistoryReader(settings, this.env.TEMPORAL_NAMESPACE);
    this.readers.push(reader);
    await reader.ready().catch((err: unknown) => {
      throw this.unreachable(err);
    });
    return reader;
  }

  unreachable(err: unknown): CommandFailed {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    const hint = this.env.TEMPORAL_ADDRESS
      ? 'check TEMPORAL_ADDRESS and that the cluster is up'
      : `is \`firebreak start\` running? (or set TEMPORAL_ADDRESS)`;
    return new CommandFailed(`cannot reach Temporal at ${this.address} — ${hint}\n  (${reason})`);
  }

  /**
   * The person at the terminal: the identity the Temporal connection proves (mTLS certificate
   * subject, API key subject) when there is one, else FIREBREAK_USER or the login name, which
   * are only declared — see docs/security.md.
   */
  async actor(): Promise<Actor> {
    this.resolvedActor ??= this.findActor();
    return this.resolvedActor;
  }

  private async findActor(): Promise<Actor> {
    const proven = await connectionIdentity(this.env).catch(() => undefined);
    const name = proven?.name ?? this.env.FIREBREAK_USER ?? safeUserName();
    const actor: Actor = { id: `cli:${name}`, name, ...(proven ? { proof: proven.proof } : {}) };
    // Slack user groups named in the permissions count for the person's CLI account too.
    const { access, approvers } = await this.policy();
    const groups = referencedGroups(access, approvers.groups);
    // Loaded by the commands that act as someone, not by those that only read (postmortem, incidents).
    const { cliActorGroups, createQuickSlackClient, UserGroupResolver } = await import('../client/slack-groups');
    const slack = createQuickSlackClient(this.env);
    if (groups.length && slack && access) {
      const memberOf = await cliActorGroups(new UserGroupResolver(slack), actor, access.people, groups);
      if (memberOf.length) actor.groups = memberOf;
    }
    return actor;
  }

  /** The config file's policy (FIREBREAK_CONFIG), loaded once. */
  policy(): Promise<IncidentPolicy> {
    // The YAML parser and the file's schema load only when a command needs the policy.
    this.loadedPolicy ??= import('../config/file').then(({ incidentPolicy, loadFileConfig }) =>
      loadFileConfig(this.env.FIREBREAK_CONFIG).then(incidentPolicy),
    );
    return this.loadedPolicy;
  }

  /**
   * A refused action: exit 1 with the reason. The refusal goes to the worker, which counts it in the
   * `/metrics` of `firebreak start` (the CLI has none of its own): recorded on the incident's
   * timeline when it concerns one, else — a refused start, an incident closed meanwhile — on the
   * refusal log. Best effort and bounded in time: the answer to the person matters more.
   */
  async refuse(action: AccessAction, reason: string, incident?: WorkflowHandle): Promise<never> {
    const notice: RefusalNotice = { actor: await this.actor(), action, reason, channel: 'cli' };
    const { refusedSignal } = await import('../domain/messages');
    const recorded = incident
      ? await incident.signal(refusedSignal, notice).then(
          () => true,
          () => false,
        )
      : false;
    if (!recorded) await this.logRefusal(notice);
    throw new CommandFailed(`refused: ${reason}`);
  }

  private async logRefusal(notice: RefusalNotice): Promise<void> {
    const logged = (async () => {
      const { refusedSignal } = await import('../domain/messages');
      const { refusalLogWorkflowId, REFUSAL_LOG_WORKFLOW_TYPE } = await import('../domain/refusals');
      const client = await this.client();
      await client.workflow.signalWithStart(REFUSAL_LOG_WORKFLOW_TYPE, {
        workflowId: refusalLogWorkflowId(this.env.FIREBREAK_TASK_QUEUE),
        taskQueue: this.env.FIREBREAK_TASK_QUEUE,
        args: [{}],
        signal: refusedSignal,
        signalArgs: [notice],
      });
    })().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, REFUSAL_LOG_TIMEOUT_MS);
      timer.unref();
    });
    await Promise.race([logged, giveUp]);
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    for (const reader of this.readers) reader.close();
    if (!this.connected) return;
    try {
      await (await this.connected).connection.close();
    } catch {
      // The connection never opened; nothing to close.
    }
  }
}

function safeUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

export interface IncidentRef {
  workflowId: string;
  runId?: string;
}

/**
 * Accepts a workflow id (`incident:p0-response:shop/checkout`, `alert:alertmanager:<hash>`) or an
 * incident id (`INC-20261121-051759-p0-checkout-1a2b`), found through its search attribute.
 */
export async function resolveIncident(ctx: CommandContext, id: string): Promise<IncidentRef> {
  const client = await ctx.client();
  if (!id.startsWith('INC-')) {
    await describeOrFail(client, { workflowId: id });
    return { workflowId: id };
  }
  const { findIncidentById } = await import('../client/incidents');
  const found = await findIncidentById(client, id);
  if (found) return found;
  throw new CommandFailed(`no incident ${id} — list incidents with \`firebreak incidents\``);
}

async function describeOrFail(client: Client, ref: IncidentRef): Promise<void> {
  try {
    await client.workflow.getHandle(ref.workflowId, ref.runId).describe();
  } catch (err) {
    throw explain(err, ref.workflowId);
  }
}

/** As @temporalio/client's isGrpcServiceError (an error with string details and metadata), without loading gRPC. */
function isGrpcServiceError(err: unknown): err is Error & { code: number; details: string } {
  return (
    err instanceof Error &&
    typeof (err as { details?: unknown }).details === 'string' &&
    typeof (err as { metadata?: unknown }).metadata === 'object' &&
    (err as { metadata?: unknown }).metadata !== null
  );
}

/** `instanceof WorkflowUpdateFailedError` as the SDK decides it (a marker symbol on its prototype), without loading the client. */
function isWorkflowUpdateFailedError(err: unknown): err is WorkflowUpdateFailedError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as Record<symbol, unknown>)[Symbol.for('__temporal_isWorkflowUpdateFailedError')] === true
  );
}

/** Turns Temporal's errors into what the user should know and do. */
export function explain(err: unknown, workflowId?: string): Error {
  if (err instanceof CommandFailed || err instanceof UsageError || err instanceof ConfigError) return err;
  if (err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && err.code === 5)) {
    return new CommandFailed(`no incident ${workflowId ?? ''} — list incidents with \`firebreak incidents\``);
  }
  if (isWorkflowUpdateFailedError(err)) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure) {
      return new CommandFailed(`refused: ${cause.message}${cause.type ? ` (${cause.type})` : ''}`);
    }
    return new CommandFailed(`refused: ${cause?.message ?? err.message}`);
  }
  if (isGrpcServiceError(err) && err.code === 14) return new CommandFailed(`Temporal is unavailable: ${err.details}`);
  return err instanceof Error ? err : new Error(String(err));
}
