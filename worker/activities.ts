/**
 * Builds every activity the worker registers, from the environment: each group's factory gets its
 * own client. Parts that are not configured still register (Slack logs instead of posting;
 * PagerDuty and Prometheus answer NOT_CONFIGURED) so a runbook never fails for an unregistered
 * activity.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { WebClient } from '@slack/web-api';
import type { FirebreakActivities } from '../activities';
import type { Env } from '../config/env';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { createDiagnosticsActivities } from '../activities/diagnostics';
import { createEmailActivities } from '../activities/email';
import { createEvidenceActivities, EvidenceStore } from '../activities/evidence';
import { createHoldActivities } from '../activities/hold';
import { createKubernetesActivities } from '../activities/kubernetes';
import { createPagingActivities } from '../activities/paging';
import { createSlackActivities } from '../activities/slack';
import { incidentLink } from '../ingress/slack/context';

export function loadKubeConfig(env: Env, log: (line: string) => void): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    if (env.KUBECONFIG) kubeConfig.loadFromFile(env.KUBECONFIG);
    else kubeConfig.loadFromDefault();
  } catch (err) {
    log(`Kubernetes: could not load a kubeconfig (${(err as Error).message}); Kubernetes steps will fail`);
  }
  return kubeConfig;
}

/** Activities call Slack once per attempt; Temporal does the retrying (honouring Retry-After). */
export function createSlackClient(env: Env): WebClient | null {
  if (!env.SLACK_BOT_TOKEN) return null;
  return new WebClient(env.SLACK_BOT_TOKEN, {
    slackApiUrl: env.SLACK_API_URL,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
  });
}

export function createActivities(
  env: Env,
  options: { slackChannel?: string; log: (line: string) => void },
): FirebreakActivities {
  const kubeConfig = loadKubeConfig(env, options.log);
  const slack = createSlackClient(env);
  return {
    ...createKubernetesActivities(kubeConfig),
    ...createSlackActivities({
      client: slack,
      defaultChannel: options.slackChannel,
      log: options.log,
    }),
    ...createDiagnosticsActivities({ prometheusUrl: env.PROMETHEUS_URL, kubeConfig }),
    ...createPagingActivities({ routingKey: env.PAGERDUTY_ROUTING_KEY, eventsUrl: env.PAGERDUTY_EVENTS_URL }),
    ...createEmailActivities({
      ...(env.FIREBREAK_SMTP_HOST ? { smtp: smtpOptions(env) } : {}),
      ...(env.FIREBREAK_EMAIL_FROM ? { from: env.FIREBREAK_EMAIL_FROM } : {}),
      link: (workflowId) => incidentLink(env, workflowId),
    }),
    ...createHoldActivities(),
    ...createEvidenceActivities({ kubeConfig, slack, store: evidenceStore(env), log: options.log }),
  };
}

/** Evidence goes to FIREBREAK_EVIDENCE_DIR (`<data dir>/evidence` by default) and is copied to the archive dir. */
export function evidenceStore(env: Env): EvidenceStore {
  return new EvidenceStore({
    dir: env.FIREBREAK_EVIDENCE_DIR ?? path.join(env.FIREBREAK_DATA_DIR, 'evidence'),
    ...(env.FIREBREAK_ARCHIVE_DIR ? { archiveDir: env.FIREBREAK_ARCHIVE_DIR } : {}),
    maxBytes: env.FIREBREAK_EVIDENCE_MAX_BYTES,
  });
}

/** The relay from FIREBREAK_SMTP_*: STARTTLS required unless told otherwise, AUTH when a user is set. */
export function smtpOptions(env: Env): SMTPTransport.Options {
  return {
    host: env.FIREBREAK_SMTP_HOST,
    port: env.FIREBREAK_SMTP_PORT,
    secure: env.FIREBREAK_SMTP_SECURE,
    requireTLS: !env.FIREBREAK_SMTP_SECURE && env.FIREBREAK_SMTP_REQUIRE_TLS,
    ignoreTLS: !env.FIREBREAK_SMTP_SECURE && !env.FIREBREAK_SMTP_REQUIRE_TLS,
    ...(env.FIREBREAK_SMTP_USER && env.FIREBREAK_SMTP_PASSWORD
      ? { auth: { user: env.FIREBREAK_SMTP_USER, pass: env.FIREBREAK_SMTP_PASSWORD } }
      : {}),
    ...(env.FIREBREAK_SMTP_CA ? { tls: { ca: readFileSync(env.FIREBREAK_SMTP_CA, 'utf8') } } : {}),
  };
}
