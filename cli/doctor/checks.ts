/**
 * The integrations `firebreak doctor` checks for real: Temporal (reachable, namespace, search
 * attributes), Slack (auth.test, the bot in the incident channel, the signing secret), PagerDuty (key
 * shape, endpoint reachable; a test page only when asked), Prometheus (a query), the directories
 * Firebreak writes, and whether the escalation chain reaches anybody.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { WebClient } from '@slack/web-api';
import type { IncidentPolicy } from '../../common/incident';
import { FIREBREAK_SEARCH_ATTRIBUTES } from '../../common/search-attributes';
import type { Env } from '../../config/env';
import { escalationReach } from '../../config/reach';
import { PROBE_TIMEOUT_MS, fail, ok, reason, skip, type CheckResult } from './check';

export async function checkTemporal(env: Env, connect: () => Promise<Client>): Promise<CheckResult[]> {
  const area = 'temporal';
  let client: Client;
  try {
    client = await connect();
    await client.connection.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () => client.workflowService.getSystemInfo({}));
  } catch (err) {
    return [fail(area, 'reachable', reason(err), 'start `firebreak start`, or set TEMPORAL_ADDRESS to your cluster')];
  }
  const namespace = env.TEMPORAL_NAMESPACE;
  const results = [ok(area, 'reachable', env.TEMPORAL_ADDRESS ?? `127.0.0.1:${env.FIREBREAK_TEMPORAL_PORT}`)];
  const service = client.connection;
  try {
    await service.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () =>
      service.workflowService.describeNamespace({ namespace }),
    );
    results.push(ok(area, 'namespace', namespace));
  } catch (err) {
    results.push(
      fail(
        area,
        'namespace',
        `${namespace}: ${reason(err)}`,
        `create it: temporal operator namespace create ${namespace}`,
      ),
    );
    return results;
  }
  try {
    const listed = await service.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () =>
      service.operatorService.listSearchAttributes({ namespace }),
    );
    const known = new Set(Object.keys(listed.customAttributes ?? {}));
    const missing = FIREBREAK_SEARCH_ATTRIBUTES.map((key) => key.name).filter((name) => !known.has(name));
    results.push(
      missing.length === 0
        ? ok(area, 'search attributes', FIREBREAK_SEARCH_ATTRIBUTES.map((key) => key.name).join(', '))
        : fail(
            area,
            'search attributes',
            `missing: ${missing.join(', ')}`,
            '`firebreak start` registers them; on a managed cluster: temporal operator search-attribute create --name <name> --type Keyword (FirebreakTarget: KeywordList)',
          ),
    );
  } catch (err) {
    results.push(fail(area, 'search attributes', reason(err), 'the operator service must be reachable to list them'));
  }
  return results;
}

export async function checkSlack(env: Env, channel: string | undefined): Promise<CheckResult[]> {
  const area = 'slack';
  if (!env.SLACK_BOT_TOKEN) {
    return [skip(area, 'auth.test', 'SLACK_BOT_TOKEN is not set: cards and approvals go to the worker log only')];
  }
  const results: CheckResult[] = [
    env.SLACK_SIGNING_SECRET || env.SLACK_APP_TOKEN
      ? ok(
          area,
          'signing secret',
          env.SLACK_SIGNING_SECRET ? 'SLACK_SIGNING_SECRET set' : 'Socket Mode (SLACK_APP_TOKEN)',
        )
      : fail(area, 'signing secret', 'SLACK_SIGNING_SECRET is not set', "set it from the app's Basic Information page"),
  ];
  const slack = new WebClient(env.SLACK_BOT_TOKEN, {
    ...(env.SLACK_API_URL ? { slackApiUrl: env.SLACK_API_URL } : {}),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: PROBE_TIMEOUT_MS,
  });
  try {
    const auth = await slack.auth.test();
    results.push(ok(area, 'auth.test', `bot ${auth.user ?? '?'} in ${auth.team ?? '?'}`));
  } catch (err) {
    results.push(
      fail(
        area,
        'auth.test',
        reason(err),
        'SLACK_BOT_TOKEN is wrong or revoked: copy the Bot User OAuth Token (xoxb-…) again',
      ),
    );
    return results;
  }
  if (!channel) {
    results.push(
      fail(
        area,
        'incident channel',
        'no channel configured',
        'set slack.channel in FIREBREAK_CONFIG or FIREBREAK_SLACK_CHANNEL',
      ),
    );
    return results;
  }
  try {
    const info = await slack.conversations.info({ channel });
    results.push(
      info.channel?.is_member
        ? ok(area, 'incident channel', `bot is a member of ${channel}`)
        : fail(area, 'incident channel', `bot is not in ${channel}`, `invite it: /invite @firebreak in ${channel}`),
    );
  } catch (err) {
    results.push(
      fail(area, 'incident channel', `${channel}: ${reason(err)}`, 'check the channel id and the channels:read scope'),
    );
  }
  return results;
}

/** PagerDuty routing (integration) keys are 32 characters of [A-Za-z0-9]. */
const ROUTING_KEY = /^[A-Za-z0-9]{32}$/;

export async function checkPagerDuty(env: Env, eventsUrl: string, testPage: boolean): Promise<CheckResult[]> {
  const area = 'pagerduty';
  const key = env.PAGERDUTY_ROUTING_KEY;
  if (!key) return [skip(area, 'routing key', 'PAGERDUTY_ROUTING_KEY is not set: PagerDuty tiers cannot page')];
  const results: CheckResult[] = [
    ROUTING_KEY.test(key)
      ? ok(area, 'routing key', 'shape ok (32 characters)')
      : fail(
          area,
          'routing key',
          `not 32 letters/digits (${key.length} characters)`,
          'copy the Integration Key of an Events API v2 integration',
        ),
  ];
  try {
    // Any HTTP answer proves the endpoint is there; only an event proves the key, hence --page.
    const res = await fetch(eventsUrl, { method: 'GET', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    results.push(ok(area, 'endpoint', `${eventsUrl} answered ${res.status}`));
  } catch (err) {
    results.push(
      fail(area, 'endpoint', `${eventsUrl}: ${reason(err)}`, 'check PAGERDUTY_EVENTS_URL and outbound HTTPS'),
    );
    return results;
  }
  if (!testPage) {
    results.push(skip(area, 'test page', 'not sent (add --page to trigger and resolve one)'));
    return results;
  }
  const dedupKey = `firebreak-doctor-${randomUUID()}`;
  const send = (action: 'trigger' | 'resolve') =>
    fetch(eventsUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        routing_key: key,
        event_action: action,
        dedup_key: dedupKey,
        ...(action === 'trigger'
          ? { payload: { summary: 'firebreak doctor test page', source: 'firebreak doctor', severity: 'info' } }
          : {}),
      }),
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
  try {
    const trigger = await send('trigger');
    if (trigger.status !== 202)
      throw new Error(`trigger answered ${trigger.status}: ${(await trigger.text()).slice(0, 200)}`);
    await send('resolve');
    results.push(ok(area, 'test page', `triggered and resolved ${dedupKey}`));
  } catch (err) {
    results.push(fail(area, 'test page', reason(err), 'check the routing key belongs to an Events API v2 integration'));
  }
  return results;
}

export async function checkPrometheus(env: Env): Promise<CheckResult[]> {
  const area = 'prometheus';
  if (!env.PROMETHEUS_URL) return [skip(area, 'query', 'PROMETHEUS_URL is not set: metric diagnostics are skipped')];
  const url = `${env.PROMETHEUS_URL.replace(/\/+$/, '')}/api/v1/query?query=vector(1)`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const body = (await res.json()) as { status?: string; error?: string };
    if (res.status !== 200 || body.status !== 'success') throw new Error(`answered ${res.status} ${body.error ?? ''}`);
    return [ok(area, 'query', `${env.PROMETHEUS_URL} answered vector(1)`)];
  } catch (err) {
    return [
      fail(area, 'query', `${env.PROMETHEUS_URL}: ${reason(err)}`, 'check PROMETHEUS_URL and that Prometheus is up'),
    ];
  }
}

export async function checkDirectories(env: Env): Promise<CheckResult[]> {
  const dirs: [string, string | undefined][] = [
    ['data (evidence, dev server)', env.FIREBREAK_DATA_DIR],
    ['archive (postmortems)', env.FIREBREAK_ARCHIVE_DIR],
  ];
  return Promise.all(
    dirs.map(async ([what, dir]) => {
      if (!dir) return skip('directories', what, 'not configured');
      const probe = path.join(path.resolve(dir), `.firebreak-doctor-${randomUUID()}`);
      try {
        await mkdir(path.dirname(probe), { recursive: true });
        await writeFile(probe, 'ok');
        await rm(probe);
        return ok('directories', what, `${path.resolve(dir)} is writable`);
      } catch (err) {
        return fail(
          'directories',
          what,
          `${dir}: ${reason(err)}`,
          `make ${dir} writable by the user running Firebreak`,
        );
      }
    }),
  );
}

export function checkEscalation(env: Env, policy: IncidentPolicy): CheckResult[] {
  const reach = escalationReach(policy, env);
  const rows = reach.tiers.map((tier) =>
    tier.problem
      ? skip('escalation', `tier ${tier.tier} (${tier.kind})`, tier.problem)
      : ok('escalation', `tier ${tier.tier} (${tier.kind})`, 'reaches someone'),
  );
  if (!reach.ok) {
    rows.push(
      fail(
        'escalation',
        'chain',
        reach.reason ?? 'reaches nobody',
        'configure escalation.tiers in FIREBREAK_CONFIG so at least one tier reaches a person',
      ),
    );
  }
  return rows;
}
