/**
 * The explicit list of route modules the ingress serves beyond /healthz and /metrics. Each module
 * verifies its own callers (Slack signatures, webhook tokens) before touching Temporal.
 */
import type { AppDeps } from './app';
import { registerSlackRoutes } from './slack/routes';
import { registerAlertRoutes } from './alerts/routes';

export const ROUTE_MODULES: NonNullable<AppDeps['routes']> = [registerAlertRoutes, registerSlackRoutes];
