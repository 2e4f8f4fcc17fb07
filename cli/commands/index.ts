/**
 * The `firebreak` commands, in the order `firebreak --help` lists them. Each talks to incidents only
 * through the Temporal client and the message contract (domain/messages.ts), exactly as the Slack
 * ingress does; none loads the worker (`firebreak start` does, on demand: cli/main.ts).
 */
import type { Command } from '../context';
import { cancel } from './cancel';
import { doctor } from './doctor';
import { ack, decideCommand, resolve, status } from './incident';
import { incidents } from './incidents';
import { postmortem } from './postmortem';
import { rbac } from './rbac';
import { replay } from './replay';
import { run } from './run';
import { runbooks } from './runbooks';

export { incidentsQuery } from './incidents';

export const COMMANDS: readonly Command[] = [
  runbooks,
  run,
  incidents,
  status,
  ack,
  decideCommand('approve'),
  decideCommand('reject'),
  resolve,
  cancel,
  postmortem,
  replay,
  doctor,
  rbac,
];
