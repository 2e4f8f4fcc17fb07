/**
 * How an incident record's state evolves apart from its gates and mitigations: when it is closed,
 * and when its alerts say it is over (domain/alerts.ts holds how they fold).
 */
import { CLOSED_STATUSES } from '../common/types';
import type { IncidentRecord } from '../common/types';
import { groupResolved } from './alerts';

export function isClosed(record: IncidentRecord): boolean {
  return CLOSED_STATUSES.includes(record.status);
}

/** All alerts of the group resolved, from a complete view: the only state in which alerts may close an incident. */
export function alertsAllResolved(record: IncidentRecord): boolean {
  return groupResolved(record);
}
