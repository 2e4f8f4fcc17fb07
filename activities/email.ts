/**
 * Email as an escalation tier (seed 003 lists Slack, email and PagerDuty), over SMTP with
 * nodemailer: STARTTLS or implicit TLS and AUTH as configured. One message per page, with the
 * incident link, threaded per incident: the first page's Message-ID is the incident's thread root,
 * later pages answer it (In-Reply-To / References). Message-IDs are derived from the incident, the
 * tier and the page key the workflow passes, so a retried send — a worker killed mid-send — sends
 * the same Message-ID again and mail clients collapse the duplicate.
 */
import { ApplicationFailure } from '@temporalio/common';
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { ErrorType } from '../common/errors';
import { fnv1a64 } from '../common/ids';
import type { Severity } from '../common/types';

export interface EmailDeps {
  /** nodemailer SMTP options (host, port, secure, requireTLS, auth, tls); undefined = not configured. */
  smtp?: SMTPTransport.Options;
  /** The sender, e.g. `Firebreak <firebreak@example.com>`; its domain ends every Message-ID. */
  from?: string;
  /** The incident's link (Temporal UI) for a workflow id, when one is known. */
  link?: (workflowId: string) => string | undefined;
}

export interface PageEmailInput {
  incidentId: string;
  workflowId: string;
  tier: string;
  to: string[];
  severity: Severity;
  title: string;
  reason: string;
  /** Unique per page within the incident, fixed across retries: the Message-ID's source. */
  pageKey: string;
  /** The incident's first email page: its Message-ID is the thread root the others answer. */
  first: boolean;
}

export interface PageEmailResult {
  messageId: string;
  accepted: string[];
  rejected: string[];
}

const MAX_RECIPIENTS = 50;
const SEND_TIMEOUT_MS = 10_000;

export function messageDomain(from: string | undefined): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from ?? '');
  return match?.[1] ?? 'firebreak.invalid';
}

/** The thread root of an incident's pages, and the Message-ID of one page. */
export function pageMessageIds(
  input: Pick<PageEmailInput, 'incidentId' | 'tier' | 'pageKey'>,
  domain: string,
): { root: string; page: string } {
  return {
    root: `<incident.${fnv1a64(input.incidentId)}@${domain}>`,
    page: `<page.${fnv1a64(`${input.incidentId}\u0000${input.tier}\u0000${input.pageKey}`)}@${domain}>`,
  };
}

export function createEmailActivities(deps: EmailDeps) {
  // One pooled transport per worker; a send that dies with the worker is retried by Temporal.
  const transport = deps.smtp
    ? nodemailer.createTransport({
        connectionTimeout: SEND_TIMEOUT_MS,
        greetingTimeout: SEND_TIMEOUT_MS,
        socketTimeout: SEND_TIMEOUT_MS,
        ...deps.smtp,
      })
    : undefined;
  const domain = messageDomain(deps.from);

  return {
    /**
     * Sends one page of an email tier. Idempotency key: the Message-ID derived from incident, tier
     * and page key — a retry resends the same Message-ID, so a duplicate collapses in mail clients.
     * Refused recipients or a refused login are permanent (PROVIDER_REJECTED); a connection that
     * fails or times out is retried. Timeout profile REMOTE_CALL (10 s per SMTP stage).
     */
    async sendPageEmail(input: PageEmailInput): Promise<PageEmailResult> {
      if (!transport || !deps.from) {
        throw ApplicationFailure.nonRetryable(
          'FIREBREAK_SMTP_HOST and FIREBREAK_EMAIL_FROM are not configured: the email escalation tier cannot page',
          ErrorType.NOT_CONFIGURED,
        );
      }
      if (input.to.length === 0 || input.to.length > MAX_RECIPIENTS) {
        throw ApplicationFailure.nonRetryable(
          `an email tier needs 1..${MAX_RECIPIENTS} recipients`,
          ErrorType.INVALID_INPUT,
        );
      }
      const ids = pageMessageIds(input, domain);
      const messageId = input.first ? ids.root : ids.page;
      const link = deps.link?.(input.workflowId);
      const text = [
        `${input.severity} incident ${input.incidentId}: ${input.title}`,
        '',
        input.reason,
        '',
        link ? `Incident: ${link}` : `Workflow: ${input.workflowId}`,
        `Acknowledge: /incident ack ${input.incidentId}  or  firebreak ack ${input.workflowId}`,
      ].join('\n');
      try {
        const sent = await transport.sendMail({
          from: deps.from,
          to: input.to,
          subject: `[${input.severity}] ${input.title} — ${input.incidentId} (${input.tier})`,
          text,
          messageId,
          ...(input.first ? {} : { inReplyTo: ids.root, references: [ids.root] }),
          headers: { 'X-Firebreak-Incident': input.incidentId },
        });
        const accepted = sent.accepted.map(String);
        const rejected = sent.rejected.map(String);
        if (accepted.length === 0) {
          throw ApplicationFailure.nonRetryable(
            `the SMTP server refused every recipient: ${rejected.join(', ')}`,
            ErrorType.PROVIDER_REJECTED,
          );
        }
        return { messageId, accepted, rejected };
      } catch (err) {
        throw classify(err);
      }
    },
  };
}

export type EmailActivities = ReturnType<typeof createEmailActivities>;

/** SMTP 5xx answers and a refused login cannot succeed on retry; the rest (network, 4xx) can. */
function classify(err: unknown): Error {
  if (err instanceof ApplicationFailure) return err;
  const smtp = err as { code?: string; responseCode?: number; message?: string };
  const message = `sending the page email failed: ${smtp.message ?? String(err)}`;
  if (smtp.code === 'EAUTH' || (smtp.responseCode !== undefined && smtp.responseCode >= 500)) {
    return ApplicationFailure.nonRetryable(message, ErrorType.PROVIDER_REJECTED);
  }
  return new Error(message);
}
