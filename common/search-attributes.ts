/**
 * Search attributes that make incidents listable and filterable through Temporal visibility.
 * Registered at start-up through the operator service (idempotently); upserted by the kernel on
 * every status change.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const runbookKey = defineSearchAttributeKey('FirebreakRunbook', SearchAttributeType.KEYWORD);
export const severityKey = defineSearchAttributeKey('FirebreakSeverity', SearchAttributeType.KEYWORD);
export const statusKey = defineSearchAttributeKey('FirebreakStatus', SearchAttributeType.KEYWORD);
export const targetKey = defineSearchAttributeKey('FirebreakTarget', SearchAttributeType.KEYWORD_LIST);
/** The human-readable incident id (INC-...), so `firebreak status INC-...` finds the workflow. */
export const incidentIdKey = defineSearchAttributeKey('FirebreakIncidentId', SearchAttributeType.KEYWORD);

export const FIREBREAK_SEARCH_ATTRIBUTES = [runbookKey, severityKey, statusKey, targetKey, incidentIdKey] as const;
