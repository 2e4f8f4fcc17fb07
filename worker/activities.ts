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
import { createDiagnosticsActivities } from '../activities/diagnostics';
import { createKubernetesActivities } from '../activities/kubernetes';
import { createPagingActivities } from '../activities/paging';
import { createSlackActivities } from '../activities/slack';

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
  return {
    ...createKubernetesActivities(loadKubeConfig(env, options.log)),
    ...createSlackActivities({
      client: createSlackClient(env),
      defaultChannel: options.slackChannel,
      log: options.log,
    }),
    ...createDiagnosticsActivities({ prometheusUrl: env.PROMETHEUS_URL }),
    ...createPagingActivities({ routingKey: env.PAGERDUTY_ROUTING_KEY, eventsUrl: env.PAGERDUTY_EVENTS_URL }),
  };
}
