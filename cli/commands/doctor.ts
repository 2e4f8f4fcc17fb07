/**
 * `firebreak doctor`: checks every integration for real and prints one row per check, with a fix
 * for each failure; exit 1 when any check fails. Nothing is changed, and no page is sent unless
 * --page asks for a test page.
 */
import { checkConfigRunbooks, loadConfiguredRunbooks } from '../../client/runbook-files';
import { incidentPolicy, loadFileConfig } from '../../config/file';
import { JSON_FLAG, noPositionals, strings } from '../args';
import type { CheckResult } from '../doctor/check';
import {
  checkDirectories,
  checkEscalation,
  checkPagerDuty,
  checkPrometheus,
  checkSlack,
  checkTemporal,
} from '../doctor/checks';
import { checkKubernetes } from '../doctor/kubernetes';
import type { Command } from '../context';
import { table } from '../format';

const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';
const MARK: Record<CheckResult['status'], string> = { ok: 'ok', fail: 'FAIL', skip: '-' };

export const doctor: Command = {
  name: 'doctor',
  summary: 'Check every integration (Temporal, Slack, PagerDuty, Kubernetes RBAC, Prometheus, dirs, escalation)',
  usage:
    'firebreak doctor [--namespace <ns>]... [--page] [--json]\n' +
    '  --namespace  namespaces whose RBAC to check (default: the kubeconfig context\'s, else "default")\n' +
    '  --page       also send a PagerDuty test page (triggered, then resolved at once)\n' +
    '  Exit 1 when any check fails; each failure says how to fix it.',
  options: { ...JSON_FLAG, namespace: { type: 'string', multiple: true }, page: { type: 'boolean' } },
  async run(ctx, args) {
    noPositionals(this, args);
    const env = ctx.env;
    const fileConfig = await loadFileConfig(env.FIREBREAK_CONFIG);
    // Routes and permissions may name runbook files, so their names are checked as start-up checks them (exit 2).
    await loadConfiguredRunbooks(env, fileConfig);
    const config = checkConfigRunbooks(fileConfig, env);
    const policy = incidentPolicy(config);
    const channel = env.FIREBREAK_SLACK_CHANNEL ?? config.slack.channel;
    const groups = await Promise.all([
      checkTemporal(env, () => ctx.client()),
      checkSlack(env, channel),
      checkPagerDuty(env, env.PAGERDUTY_EVENTS_URL ?? PAGERDUTY_EVENTS_URL, args.values.page === true),
      checkKubernetes(env.KUBECONFIG, strings(args.values.namespace)),
      checkPrometheus(env),
      checkDirectories(env),
    ]);
    const results = [...groups.flat(), ...checkEscalation(env, policy)];
    const failed = results.filter((result) => result.status === 'fail');
    if (ctx.json) ctx.printJson({ ok: failed.length === 0, checks: results });
    else {
      ctx.out(renderTable(results));
      ctx.out('');
      ctx.out(failed.length === 0 ? 'All checks passed.' : `${failed.length} check(s) failed.`);
    }
    return failed.length === 0 ? 0 : 1;
  },
};

function renderTable(results: CheckResult[]): string {
  const rows = results.map((r) => [MARK[r.status], r.area, r.check, r.detail, r.fix ? `fix: ${r.fix}` : '']);
  return table(['', 'area', 'check', 'detail', ''], rows);
}
