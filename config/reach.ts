/**
 * Whether the escalation chain reaches anybody with this configuration. A fresh install pages
 * nobody — tiers mention no one by default and PagerDuty has no routing key — and nothing used to
 * say so; start-up warns, /healthz reports `degraded` and `firebreak doctor` fails on this.
 */
import type { EscalationTier, IncidentPolicy } from '../common/incident';
import type { Env } from './env';

export interface TierReach {
  tier: string;
  kind: EscalationTier['kind'];
  /** Undefined when the tier reaches someone; otherwise why not and what to set. */
  problem?: string;
}

export interface EscalationReach {
  /** True when at least one tier reaches a person. */
  ok: boolean;
  tiers: TierReach[];
  /** One line for logs and /healthz when nobody is reached. */
  reason?: string;
}

export function tierReach(tier: EscalationTier, env: Env): TierReach {
  const base = { tier: tier.name, kind: tier.kind };
  switch (tier.kind) {
    case 'slack':
      if (!env.SLACK_BOT_TOKEN) return { ...base, problem: 'SLACK_BOT_TOKEN is not set: nothing is posted' };
      if (tier.mentions.length === 0) {
        return { ...base, problem: 'mentions nobody: add user (U…) or group (S…) ids to its `mentions`' };
      }
      return base;
    case 'pagerduty':
      return env.PAGERDUTY_ROUTING_KEY ? base : { ...base, problem: 'PAGERDUTY_ROUTING_KEY is not set' };
    case 'email':
      if (!env.FIREBREAK_SMTP_HOST) return { ...base, problem: 'FIREBREAK_SMTP_HOST is not set' };
      return (tier.to?.length ?? 0) > 0 ? base : { ...base, problem: 'has no `to` addresses' };
  }
}

export function escalationReach(policy: IncidentPolicy, env: Env): EscalationReach {
  const tiers = policy.tiers.map((tier) => tierReach(tier, env));
  const ok = tiers.some((tier) => tier.problem === undefined);
  if (ok) return { ok, tiers };
  const why = tiers.length === 0 ? 'no tier is configured' : tiers.map((t) => `${t.tier}: ${t.problem}`).join('; ');
  return { ok, tiers, reason: `the escalation chain reaches nobody (${why})` };
}
