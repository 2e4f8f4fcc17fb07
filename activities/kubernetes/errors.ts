/**
 * Kubernetes API failures onto the error catalogue: not found → TARGET_NOT_FOUND, RBAC refusal →
 * FORBIDDEN (naming the verb and resource the role lacks), rejected input → INVALID_INPUT, all
 * non-retryable; conflicts, throttling, 5xx and network failures stay plain errors that Temporal
 * retries. Every request goes through `call`, which also heartbeats and is one trace span.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException } from '@kubernetes/client-node';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../common/errors';

const CONFLICT_ATTEMPTS = 5;

/** What a request was trying to do, so a refusal can name the object and the RBAC rule it lacks. */
export interface Access {
  verb: string;
  /** `resource[/subresource]` with its API group, as an RBAC rule names it, e.g. `deployments.apps`. */
  resource: string;
  namespace?: string;
  name?: string;
  /** Said after a refusal, when RBAC needs more than the one verb (exec over WebSocket). */
  rbacHint?: string;
}

function describe(access: Access): string {
  const where = access.namespace ? ` in namespace ${access.namespace}` : '';
  return access.name ? `${access.resource} "${access.name}"${where}` : `${access.resource}${where}`;
}

function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim() || undefined;
    }
  }
  if (parsed && typeof parsed === 'object' && 'message' in parsed && typeof parsed.message === 'string') {
    return parsed.message;
  }
  return undefined;
}

/** HTTP 409: the object changed under us (a controller updated its status). Re-read and try again. */
export class ConflictError extends Error {
  override name = 'ConflictError';
}

/** Maps an API failure to the catalogue: permanent ones become non-retryable, the rest stay retryable. */
export function toActivityError(err: unknown, access: Access): Error {
  if (err instanceof ApplicationFailure) return err;
  const code = err instanceof ApiException ? err.code : wsStatusCode(err);
  const serverMessage = err instanceof ApiException ? statusMessage(err.body) : undefined;
  const detail = serverMessage ? `: ${serverMessage}` : '';
  if (code === 404) {
    return ApplicationFailure.nonRetryable(`${describe(access)} not found${detail}`, ErrorType.TARGET_NOT_FOUND);
  }
  if (code === 403) {
    return ApplicationFailure.nonRetryable(
      `forbidden: RBAC does not allow verb "${access.verb}" on resource "${access.resource}"` +
        `${access.namespace ? ` in namespace "${access.namespace}"` : ''} (needed for ${describe(access)})${detail}` +
        (access.rbacHint ? `; ${access.rbacHint}` : ''),
      ErrorType.FORBIDDEN,
    );
  }
  if (code === 401) {
    // Credentials expire and get rotated (projected tokens, exec plugins): worth another attempt.
    return new Error(`unauthorized calling ${access.verb} ${describe(access)}${detail}`);
  }
  if (code === 400 || code === 422) {
    return ApplicationFailure.nonRetryable(
      `${access.verb} ${describe(access)} rejected by the API server${detail}`,
      ErrorType.INVALID_INPUT,
    );
  }
  if (code === 409) return new ConflictError(`${access.verb} ${describe(access)} conflicted${detail}`);
  if (code !== undefined) {
    // 429 throttling, 5xx: transient by nature.
    return new Error(`${access.verb} ${describe(access)} failed with HTTP ${code}${detail}`);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`${access.verb} ${describe(access)} failed: ${message}`);
}

function wsStatusCode(err: unknown): number | undefined {
  const message =
    err && typeof err === 'object' && 'message' in err && typeof err.message === 'string' ? err.message : undefined;
  const match = message ? /Unexpected server response: (\d{3})/.exec(message) : null;
  return match ? Number(match[1]) : undefined;
}

/**
 * Runs a read-compute-patch step again when it lost a race: controllers update a Deployment's
 * status constantly, and every patch here carries the resourceVersion it was computed from. After
 * a few tries the conflict goes to Temporal's retry policy like any transient error.
 */
export async function retryOnConflict<T>(step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= CONFLICT_ATTEMPTS) throw err;
      // An activity cancelled meanwhile stops here instead of patching again.
      await sleep(50 * attempt, undefined, { signal: activityContext()?.cancellationSignal });
    }
  }
}

/**
 * The process's tracer provider's (config/telemetry.ts registers one when traces are exported); the
 * API's no-op tracer otherwise, whose spans cost next to nothing.
 */
const tracer = trace.getTracer('firebreak');

export async function call<T>(access: Access, fn: () => Promise<T>): Promise<T> {
  // Every request is progress: under LONG_REMEDIATION's heartbeat timeout, an attempt lost with its
  // worker is retried in seconds (the markers make the retry safe) instead of at start-to-close.
  activityContext()?.heartbeat();
  // One client span per API request, a child of the activity's span (Temporal's interceptor).
  const attributes = {
    'k8s.verb': access.verb,
    'k8s.resource': access.resource,
    ...(access.namespace ? { 'k8s.namespace.name': access.namespace } : {}),
    ...(access.name ? { 'k8s.object.name': access.name } : {}),
  };
  return tracer.startActiveSpan(
    `kubernetes ${access.verb} ${access.resource}`,
    { kind: SpanKind.CLIENT, attributes },
    async (span) => {
      try {
        return await fn();
      } catch (err) {
        const failure = toActivityError(err, access);
        span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
        throw failure;
      } finally {
        span.end();
      }
    },
  );
}

/** The activity context when running under Temporal; undefined when called directly (tests, scripts). */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}
