/**
 * Every activity the worker registers, as one type. Activity names are part of running incidents'
 * histories: the workflows call them through typed proxies and the postmortem reads them back
 * through `ActivityName`, so a rename is a compile error, not a silently empty section.
 */
import type { DiagnosticsActivities } from './diagnostics';
import type { EmailActivities } from './email';
import type { EvidenceActivities } from './evidence';
import type { HoldActivities } from './hold';
import type { KubernetesActivities } from './kubernetes';
import type { PagingActivities } from './paging';
import type { SlackActivities } from './slack';

export type FirebreakActivities = KubernetesActivities &
  SlackActivities &
  DiagnosticsActivities &
  PagingActivities &
  EmailActivities &
  HoldActivities &
  EvidenceActivities;
export type ActivityName = keyof FirebreakActivities;
