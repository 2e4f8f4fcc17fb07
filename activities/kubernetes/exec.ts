/**
 * `kubectl exec` that waits for the command to end: client-node resolves when the socket opens,
 * the exit status arrives later on the status channel. Output is capped per stream.
 */
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Status } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../common/errors';
import type { KubeApi } from './api';
import { activityContext, call, type Access } from './errors';
import { clamp, execExitCode, pickContainer } from './kubectl';
import type { ExecResult } from './types';

const DEFAULT_EXEC_OUTPUT_BYTES = 1024 * 1024;
const MAX_EXEC_OUTPUT_BYTES = 16 * 1024 * 1024;
const DEFAULT_EXEC_TIMEOUT_SECONDS = 60;
const MAX_EXEC_TIMEOUT_SECONDS = 30 * 60;

/** A sink that keeps the first `limit` bytes and counts the rest. */
class CappedBuffer extends Writable {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  truncated = false;

  constructor(private readonly limit: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const room = this.limit - this.kept;
    if (chunk.length > room) this.truncated = true;
    if (room > 0) {
      const part = chunk.subarray(0, room);
      this.chunks.push(part);
      this.kept += part.length;
    }
    done();
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** What to run where, for `runExec`. */
export interface ExecTarget {
  namespace: string;
  pod: string;
  container?: string;
  command: string[];
  timeoutSeconds?: number;
}

/**
 * Runs a command in a Running pod, its output written to `stdout` / `stderr` as it arrives, and
 * waits for it to END. `stop` ends the exec early (its output is enough: a capped capture): the
 * answer is then `{ stopped: true }` with no exit status. Heartbeats while it waits.
 */
export async function runExec(
  { core, exec }: KubeApi,
  input: ExecTarget,
  stdout: Writable,
  stderr: Writable,
  stop?: AbortSignal,
): Promise<{ exitCode: number; container: string } | { stopped: true; container: string }> {
  if (input.command.length === 0) throw ApplicationFailure.nonRetryable('empty command', ErrorType.INVALID_INPUT);
  const access: Access = {
    verb: 'create',
    resource: 'pods/exec',
    namespace: input.namespace,
    name: input.pod,
    rbacHint: 'exec over WebSocket needs both "get" and "create" on pods/exec',
  };
  const pod = await call({ verb: 'get', resource: 'pods', namespace: input.namespace, name: input.pod }, () =>
    core.readNamespacedPod({ name: input.pod, namespace: input.namespace }),
  );
  const containerName =
    input.container ?? pickContainer(pod.spec?.containers ?? [], pod.metadata?.annotations, undefined).name;
  if (pod.status?.phase !== 'Running') {
    throw ApplicationFailure.nonRetryable(
      `cannot exec in pod ${input.namespace}/${input.pod}: it is ${pod.status?.phase ?? 'Unknown'}, not Running`,
      ErrorType.INVALID_INPUT,
    );
  }
  const timeoutMs = clamp(input.timeoutSeconds, DEFAULT_EXEC_TIMEOUT_SECONDS, MAX_EXEC_TIMEOUT_SECONDS) * 1000;
  const context = activityContext();

  let settle!: (status: V1Status | undefined) => void;
  const finished = new Promise<V1Status | undefined>((resolve) => (settle = resolve));
  const socket = await call(access, () =>
    exec.exec(input.namespace, input.pod, containerName, input.command, stdout, stderr, null, false, (status) =>
      settle(status),
    ),
  );
  socket.on('close', () => settle(undefined));
  const heartbeat = context ? setInterval(() => context.heartbeat({ pod: input.pod }), 5000) : undefined;
  // Ends the timer and the listeners once the command is over.
  const over = new AbortController();
  const timedOut = sleep(timeoutMs, 'timeout' as const, { signal: over.signal });
  const cancelled = context
    ? once(context.cancellationSignal, 'abort', { signal: over.signal }).then(() => 'cancelled' as const)
    : new Promise<never>(() => undefined);
  const stopped = stop
    ? stop.aborted
      ? Promise.resolve('stopped' as const)
      : once(stop, 'abort', { signal: over.signal }).then(() => 'stopped' as const)
    : new Promise<never>(() => undefined);
  try {
    const outcome = await Promise.race([finished, timedOut, cancelled, stopped]);
    if (outcome === 'stopped') return { stopped: true, container: containerName };
    if (outcome === 'timeout') {
      throw ApplicationFailure.nonRetryable(
        `command in ${input.namespace}/${input.pod} (${containerName}) still running after ${timeoutMs / 1000}s`,
        ErrorType.EXEC_TIMED_OUT,
      );
    }
    if (outcome === 'cancelled') throw new Error(`exec in ${input.namespace}/${input.pod} cancelled`);
    if (!outcome) {
      throw new Error(`exec in ${input.namespace}/${input.pod} closed before the command reported its exit status`);
    }
    const exitCode = execExitCode(outcome);
    if (exitCode === undefined) {
      // The command never ran (not found, container gone): the runtime's words say why.
      throw new Error(
        `exec in ${input.namespace}/${input.pod} (${containerName}) failed: ${outcome.message ?? outcome.reason ?? 'unknown error'}`,
      );
    }
    return { exitCode, container: containerName };
  } finally {
    over.abort();
    if (heartbeat) clearInterval(heartbeat);
    socket.close();
  }
}

export function createExecActivities(api: KubeApi) {
  return {
    /**
     * `kubectl exec`: runs a command in a container and waits for it to END (client-node resolves
     * when the socket opens; the exit status arrives later on the status channel). Output is capped
     * (default 1 MiB per stream). Changes nothing itself — what the command does is the caller's
     * business; not idempotent, so the runbook must only exec read-only commands. Incidents begun
     * before evidence was streamed out (captureHeapProfile) still take their heap profile with it.
     * QUICK profile in the runbooks; heartbeats while it waits.
     */
    async execInPod(input: ExecTarget & { maxOutputBytes?: number }): Promise<ExecResult> {
      const limit = clamp(input.maxOutputBytes, DEFAULT_EXEC_OUTPUT_BYTES, MAX_EXEC_OUTPUT_BYTES);
      const stdout = new CappedBuffer(limit);
      const stderr = new CappedBuffer(limit);
      const result = await runExec(api, input, stdout, stderr);
      return {
        exitCode: 'exitCode' in result ? result.exitCode : -1,
        stdout: stdout.text(),
        stderr: stderr.text(),
        truncated: stdout.truncated || stderr.truncated,
      };
    },
  };
}
