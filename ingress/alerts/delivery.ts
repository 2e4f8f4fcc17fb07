/**
 * Handing a notification's signals (signals.ts) to Temporal, in order, each recorded before the
 * next is sent and all before the sender hears 2xx. A running incident for the group gets plain
 * signals; otherwise the first part starts it (signal-with-start) and the rest join it the same
 * way, so a part that arrives after a concurrent request started the incident still lands there.
 *
 * Temporal answers a signal in milliseconds; past TEMPORAL_DEADLINE_MS it is not reachable in any
 * useful sense. The gRPC deadline alone can overshoot by seconds (connection set-up, retry
 * back-off), so a hard cap backs it, and the whole notification has its own cap: the answer must
 * leave before the ingress's connection timeout cuts the socket. A call still in flight at a cap
 * may land after the 503; the sender's retry then repeats the notification, which the incident
 * folds in by fingerprint.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  isGrpcDeadlineError,
  isGrpcServiceError,
  QueryNotRegisteredError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import { deliverAlert, incidentHandle } from '../../client/incidents';
import type { PreparedIncident } from '../../runbooks';
import { alertSignal, alertsSignal, foldsAlertBatchesQuery, type AlertNotification } from '../../domain/messages';
import type { PreviousRun } from '../../common/incident';
import { COALESCED_BYTES, signalBytes, type BatchFolding, type SignalCoalescer } from './coalesce';
import { takingUp, unclosedRun } from './continuity';

const TEMPORAL_DEADLINE_MS = 5_000;
const TEMPORAL_HARD_CAP_MS = 7_000;
const NOTIFICATION_CAP_MS = 9_000;

export class TemporalTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`no answer from Temporal for ${what} within ${ms} ms`);
    this.name = 'TemporalTimeoutError';
  }
}

/** gRPC UNAVAILABLE or a missed deadline, anywhere in the cause chain: the sender should retry. */
export function isTemporalUnavailable(err: unknown): boolean {
  if (err instanceof TemporalTimeoutError || isGrpcDeadlineError(err)) return true;
  for (let cause: unknown = err, depth = 0; cause && depth < 5; depth++) {
    // UNAVAILABLE, DEADLINE_EXCEEDED, and CANCELLED (what an overloaded client's call can end as).
    if (isGrpcServiceError(cause) && (cause.code === 14 || cause.code === 4 || cause.code === 1)) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

export class SignalDelivery {
  private readonly startedAt = Date.now();

  constructor(
    private readonly client: Client,
    private readonly workflowId: string,
    private readonly signals: AlertNotification[],
  ) {}

  /**
   * Signals every part to the group's running incident; false (nothing sent) when there is none.
   * Through a coalescer, the parts may leave in one signal with other notifications of the group.
   */
  async toRunningIncident(coalescer?: SignalCoalescer): Promise<boolean> {
    if (!coalescer) return this.sendToRunning(this.signals, signalBytes(this.signals));
    const send = async (signals: AlertNotification[], bytes: number) => {
      const delivered = await this.sendToRunning(signals, bytes, coalescer.folding);
      if (!delivered) coalescer.folding.forget(this.workflowId);
      return delivered;
    };
    return coalescer.deliver(this.workflowId, this.signals, send);
  }

  /**
   * Several signals within COALESCED_BYTES go as one `alerts` signal, recorded all or nothing, to
   * an incident whose build folds it (`folding`); otherwise one `alert` signal each, in order. An
   * incident that closes between those parts misses only resolutions it no longer needs.
   */
  private async sendToRunning(signals: AlertNotification[], bytes: number, folding?: BatchFolding): Promise<boolean> {
    const handle = incidentHandle(this.client, this.workflowId);
    try {
      if (
        folding &&
        signals.length > 1 &&
        bytes <= COALESCED_BYTES &&
        (await folding.folds(this.workflowId, () => this.askFolds()))
      ) {
        await this.call(`signal of ${signals.length}`, () => handle.signal(alertsSignal, signals));
        return true;
      }
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
    for (const [index, signal] of signals.entries()) {
      try {
        await this.call(`signal ${index + 1}`, () => handle.signal(alertSignal, signal));
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return index > 0;
        throw err;
      }
    }
    return true;
  }

  /**
   * Starts the incident with the first part (or joins it, if it started meanwhile) and adds the rest.
   * A group whose latest run died unclosed is taken up again (continuity.ts); that run is returned.
   * A group that never ran needs no look at its past: the first start refuses to follow a closed
   * run (REJECT_DUPLICATE), so one call opens a new group, and only a group with a past is described.
   */
  async startingIncident(prepared: PreparedIncident, taskQueue: string): Promise<PreviousRun | undefined> {
    const [first, ...rest] = this.signals;
    let previous: PreviousRun | undefined;
    let starting = prepared;
    try {
      await this.call('signal-with-start 1', () =>
        deliverAlert(this.client, prepared, first!, taskQueue, 'REJECT_DUPLICATE'),
      );
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      previous = await this.call('describe', () => unclosedRun(this.client, this.workflowId));
      starting = previous ? takingUp(prepared, previous) : prepared;
      await this.call('signal-with-start 1', () => deliverAlert(this.client, starting, first!, taskQueue));
    }
    for (const [index, signal] of rest.entries()) {
      await this.call(`signal-with-start ${index + 2}`, () => deliverAlert(this.client, starting, signal, taskQueue));
    }
    return previous;
  }

  /** True or false as the incident's build answers; undefined when it could not be asked now. */
  private async askFolds(): Promise<boolean | undefined> {
    try {
      return await this.call('query foldsAlertBatches', () =>
        incidentHandle(this.client, this.workflowId).query(foldsAlertBatchesQuery),
      );
    } catch (err) {
      if (err instanceof QueryNotRegisteredError) return false;
      if (err instanceof WorkflowNotFoundError) throw err;
      return undefined;
    }
  }

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const left = NOTIFICATION_CAP_MS - (Date.now() - this.startedAt);
    if (left <= 0) return Promise.reject(new TemporalTimeoutError(what, NOTIFICATION_CAP_MS));
    const cap = Math.min(TEMPORAL_HARD_CAP_MS, left);
    const call = this.client.withDeadline(Date.now() + Math.min(TEMPORAL_DEADLINE_MS, cap), fn);
    call.catch(() => undefined);
    const answered = new AbortController();
    const capped = sleep(cap, undefined, { signal: answered.signal }).then(() => {
      throw new TemporalTimeoutError(what, cap);
    });
    return Promise.race([call, capped]).finally(() => answered.abort());
  }
}
