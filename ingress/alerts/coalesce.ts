/**
 * Coalescing a group's notifications into one signal. A storm repeats the same few groups many
 * times a second; one Temporal signal per notification makes the server do one write, one workflow
 * task and one history batch each. So per group at most one signal is in flight: what arrives
 * meanwhile queues behind it and leaves as the NEXT signal, carrying every notification that
 * queued (bounded by COALESCED_BYTES / COALESCED_NOTIFICATIONS). Each request still answers only
 * once the signal holding its notification is recorded by Temporal, so a 2xx keeps meaning
 * "durably recorded"; a failed signal fails every request it carried (503: the senders retry), and
 * one that finds no running incident sends each request down the start path on its own.
 *
 * Order is kept: a group's signals leave one after another in arrival order, and the parts of a
 * split notification stay together and in order. Waiting adds at most one signal's round trip.
 */
import type { AlertNotification } from '../../domain/messages';
import { SIGNAL_BUDGET_BYTES } from './signals';

/** Temporal refuses payloads over 2 MiB by default; a coalesced signal stays well under it. */
export const COALESCED_BYTES = 4 * SIGNAL_BUDGET_BYTES;
/** The incident folds each notification in one workflow task: bound the work per task too. */
export const COALESCED_NOTIFICATIONS = 256;
/** How long a batch waits for the foldsAlertBatches answer before going one notification per signal. */
export const FOLD_ANSWER_WAIT_MS = 1_000;
/** Groups tracked at once; beyond it a group's notifications go out uncoalesced (still correct). */
export const MAX_COALESCED_GROUPS = 10_000;

/**
 * Sends one group's queued signals (`bytes` of JSON) to its running incident, in order; resolves
 * false when the group has none. A batch is either one notification (whatever its size) or several
 * within COALESCED_BYTES.
 */
export type SendBatch = (signals: AlertNotification[], bytes: number) => Promise<boolean>;

interface Batch {
  signals: AlertNotification[];
  bytes: number;
  notifications: number;
  /** The first request's sender: its deadline is the batch's (it waited longest). */
  send: SendBatch;
  waiters: { resolve: (delivered: boolean) => void; reject: (err: unknown) => void }[];
}

interface Group {
  inFlight: boolean;
  queue: Batch[];
}

export class SignalCoalescer {
  private readonly groups = new Map<string, Group>();
  readonly folding = new BatchFolding();
  /** Signals sent and the notifications they carried: the coalescing ratio, for /metrics and benchmarks. */
  readonly stats = { signals: 0, notifications: 0 };

  /**
   * Queues one notification's signals for the group and resolves once Temporal recorded them
   * (true), or the group turned out to have no running incident (false: nothing was recorded).
   */
  deliver(workflowId: string, signals: AlertNotification[], send: SendBatch): Promise<boolean> {
    let group = this.groups.get(workflowId);
    if (!group) {
      if (this.groups.size >= MAX_COALESCED_GROUPS) return this.sendNow(signals, signalBytes(signals), 1, send);
      group = { inFlight: false, queue: [] };
      this.groups.set(workflowId, group);
    }
    const bytes = signalBytes(signals);
    let batch = group.queue.at(-1);
    if (
      !batch ||
      batch.notifications >= COALESCED_NOTIFICATIONS ||
      (batch.signals.length > 0 && batch.bytes + bytes > COALESCED_BYTES)
    ) {
      batch = { signals: [], bytes: 0, notifications: 0, send, waiters: [] };
      group.queue.push(batch);
    }
    batch.signals.push(...signals);
    batch.bytes += bytes;
    batch.notifications += 1;
    const answered = new Promise<boolean>((resolve, reject) => batch.waiters.push({ resolve, reject }));
    if (!group.inFlight) void this.drain(workflowId, group);
    return answered;
  }

  private async sendNow(
    signals: AlertNotification[],
    bytes: number,
    notifications: number,
    send: SendBatch,
  ): Promise<boolean> {
    this.stats.signals += 1;
    this.stats.notifications += notifications;
    return send(signals, bytes);
  }

  /** Sends the group's batches one at a time until none is left, then forgets the group. */
  private async drain(workflowId: string, group: Group): Promise<void> {
    group.inFlight = true;
    try {
      for (let batch = group.queue.shift(); batch; batch = group.queue.shift()) {
        try {
          const delivered = await this.sendNow(batch.signals, batch.bytes, batch.notifications, batch.send);
          for (const waiter of batch.waiters) waiter.resolve(delivered);
        } catch (err) {
          for (const waiter of batch.waiters) waiter.reject(err);
        }
      }
    } finally {
      group.inFlight = false;
      if (group.queue.length === 0) this.groups.delete(workflowId);
    }
  }
}

export function signalBytes(signals: AlertNotification[]): number {
  return signals.reduce((n, signal) => n + Buffer.byteLength(JSON.stringify(signal), 'utf8'), 0);
}

/**
 * The groups this ingress recently saw open (it started or signalled their incident), most recent
 * last, at most `limit`. A known group's notification goes straight to its incident as a plain
 * signal; an unknown group's firing notification goes straight to routing and signal-with-start
 * (which joins the incident if it runs after all). Only a hint: a wrong guess costs one call more.
 */
export class KnownOpenGroups {
  private readonly ids = new Set<string>();

  constructor(private readonly limit = MAX_COALESCED_GROUPS) {}

  has(workflowId: string): boolean {
    return this.ids.has(workflowId);
  }

  add(workflowId: string): void {
    this.ids.delete(workflowId);
    this.ids.add(workflowId);
    if (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value!);
  }

  forget(workflowId: string): void {
    this.ids.delete(workflowId);
  }
}

/**
 * Which running incidents fold an `alerts` signal. Builds older than the signal have no handler for
 * it: pinned to such a build, an incident would record the signal and never read it. So each
 * incident is asked once (the foldsAlertBatches query, answered only by builds that fold) before its
 * first coalesced signal, and the answer is remembered for a bounded number of incidents; an
 * unanswered question is asked again next time, and meanwhile the notifications go one per signal.
 */
export class BatchFolding {
  private readonly answers = new Map<string, boolean>();
  /** Questions in flight, by incident: asked once, however many batches wait meanwhile. */
  private readonly asking = new Map<string, Promise<void>>();

  constructor(private readonly limit = MAX_COALESCED_GROUPS) {}

  /**
   * The remembered answer, else the question's answer if it comes within FOLD_ANSWER_WAIT_MS, else
   * false while it is still asked in the background: a query waits for the incident's workflow
   * task, which in a storm of new incidents can take seconds, and the batches meanwhile go one
   * notification per signal instead of waiting for it.
   */
  async folds(workflowId: string, ask: () => Promise<boolean | undefined>): Promise<boolean> {
    const known = this.answers.get(workflowId);
    if (known !== undefined) return known;
    if (!this.asking.has(workflowId)) {
      const question = ask()
        .catch(() => undefined)
        .then((answer) => {
          if (this.asking.get(workflowId) === question) this.asking.delete(workflowId);
          if (answer === undefined) return;
          this.answers.set(workflowId, answer);
          if (this.answers.size > this.limit) this.answers.delete(this.answers.keys().next().value!);
        });
      this.asking.set(workflowId, question);
    }
    // Usually answered in a round trip: wait that long, never longer.
    let waited: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.asking.get(workflowId),
      new Promise<void>((resolve) => (waited = setTimeout(resolve, FOLD_ANSWER_WAIT_MS))),
    ]);
    clearTimeout(waited);
    return this.answers.get(workflowId) ?? false;
  }

  /** Resolves once no question about the incident is in flight (tests). */
  async settled(workflowId: string): Promise<void> {
    await this.asking.get(workflowId);
  }

  /** The group has no running incident: its next one may run another build. */
  forget(workflowId: string): void {
    this.answers.delete(workflowId);
    this.asking.delete(workflowId);
  }
}
