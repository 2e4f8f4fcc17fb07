/**
 * `firebreak cancel`: stop an incident's runbook. Changes already sent settle, pending gates are
 * withdrawn, temporary mitigations are restored (through the restore gate, or at once with
 * --restore-now), pages are resolved, and the incident closes as `cancelled` with who and why.
 */
import { cancelUpdate } from '../../domain/messages';
import { JSON_FLAG, oneId } from '../args';
import { resolveIncident, type Command } from '../context';
import { refusedOrExplained, runningIncident } from './incident';

export const cancel: Command = {
  name: 'cancel',
  summary: 'Cancel an incident: stop its runbook, withdraw gates, restore mitigations, resolve pages',
  usage:
    'firebreak cancel <id> --reason <text> [--restore-now] [--json]\n' +
    '  --restore-now  restore temporary mitigations at once instead of asking through the restore gate\n' +
    '  Only approvers may cancel once approvers are configured (FIREBREAK_CONFIG approvers).',
  options: { ...JSON_FLAG, reason: { type: 'string' }, 'restore-now': { type: 'boolean' } },
  async run(ctx, args) {
    const ref = await resolveIncident(ctx, oneId(this, args));
    const client = await ctx.client();
    const reason = args.values.reason;
    const restoreNow = args.values['restore-now'] === true;
    const handle = await runningIncident(client, ref);
    const record = await handle
      .executeUpdate(cancelUpdate, {
        args: [{ actor: await ctx.actor(), restoreNow, ...(typeof reason === 'string' ? { reason } : {}) }],
      })
      .catch((err: unknown) => refusedOrExplained(ctx, 'cancel', err, handle));
    if (ctx.json) {
      ctx.printJson(record);
      return 0;
    }
    const restoring = restoreNow ? 'restores its mitigations now' : 'offers restoring its mitigations';
    ctx.out(`Cancelling ${record.id} (${ref.workflowId}): the runbook stops, ${restoring}, and resolves its pages.`);
    return 0;
  },
};
