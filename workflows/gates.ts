/**
 * The runbooks' approval gates, shared by the workflows (which open them) and the catalog (which
 * lists them for Slack, the CLI and documentation). Pure data: gate names are part of running
 * incidents and of `firebreak approve --gate`, so never rename one.
 */

export interface GateDefinition {
  name: string;
  prompt: string;
  fourEyes: boolean;
}

export const P0_RESTART_GATE: GateDefinition = {
  name: 'restart',
  prompt: 'Attempt automatic recovery with a rollout restart?',
  fourEyes: false,
};

export const ROLLBACK_CONFIRM_GATE: GateDefinition = {
  name: 'confirm-rollback',
  prompt: 'Are you sure you want to roll back?',
  fourEyes: true,
};

export const OOM_DISABLE_EXPORT_GATE: GateDefinition = {
  name: 'disable-trace-export',
  prompt: 'Extreme case: disable trace export (OTEL_TRACES_EXPORTER=none) until the incident is resolved?',
  fourEyes: false,
};

/** Offered by the kernel on every runbook that recorded temporary mitigations. */
export const RESTORE_GATE: GateDefinition = {
  name: 'restore',
  prompt: 'Restore the temporary mitigations to their previous values?',
  fourEyes: false,
};
