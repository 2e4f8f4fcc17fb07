/**
 * Slack user-group membership (`usergroups.users.list`), shared by the ingress (Slack actors) and
 * the CLI (a person's Slack account from the identity map), so a group named in the permissions
 * means the same people whichever channel they act through.
 */
import { WebClient } from '@slack/web-api';
import type { Env } from '../config/env';
import type { Actor } from '../common/types';
import type { PersonIdentity } from '../common/access';

/** Calls to Slack from the ingress and the CLI must be quick and single: no client retries, no waiting out a 429. */
export function createQuickSlackClient(env: Env): WebClient | null {
  if (!env.SLACK_BOT_TOKEN) return null;
  return new WebClient(env.SLACK_BOT_TOKEN, {
    slackApiUrl: env.SLACK_API_URL,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 2_500,
  });
}

/**
 * Which approver user groups a Slack user belongs to, from `usergroups.users.list`, cached
 * briefly per group so a burst of clicks costs one call. A failed lookup counts as "not a
 * member": authorization fails closed.
 */
export class UserGroupResolver {
  private readonly cache = new Map<string, { at: number; members: Promise<Set<string>> }>();

  constructor(
    private readonly slack: WebClient | null,
    private readonly ttlMs = 60_000,
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  async groupsOf(userId: string, groups: readonly string[]): Promise<string[]> {
    const found = await Promise.all(
      groups.map(async (group) => ((await this.members(group)).has(userId) ? group : '')),
    );
    return found.filter(Boolean);
  }

  private members(group: string): Promise<Set<string>> {
    const cached = this.cache.get(group);
    if (cached && Date.now() - cached.at < this.ttlMs) return cached.members;
    const members = this.lookup(group);
    this.cache.set(group, { at: Date.now(), members });
    return members;
  }

  private async lookup(group: string): Promise<Set<string>> {
    if (!this.slack) return new Set();
    try {
      const result = await this.slack.usergroups.users.list({ usergroup: group });
      return new Set(result.users ?? []);
    } catch (err) {
      // Do not keep a failure for the whole TTL: the next click asks again.
      this.cache.delete(group);
      this.log(`usergroups.users.list ${group} failed: ${(err as Error).message}`);
      return new Set();
    }
  }
}

/**
 * The Slack groups (among `groups`) of the person a CLI account belongs to, through their Slack
 * account in the identity map. None without a bot token or a mapped Slack account.
 */
export async function cliActorGroups(
  resolver: UserGroupResolver,
  actor: Actor,
  people: Record<string, PersonIdentity>,
  groups: readonly string[],
): Promise<string[]> {
  const name = actor.id.replace(/^cli:/, '');
  const slackId = Object.values(people).find((person) => person.cli === name)?.slack;
  return slackId && groups.length ? resolver.groupsOf(slackId, groups) : [];
}
