/**
 * The chaos sweep's end of the activity hook (test only: worker/activity-hook.ts): the loopback
 * endpoint the engine's activity attempts announce themselves to, and which world's engine
 * announces to which hook. Used by the sweep (test/chaos/sweep.ts) to kill the engine inside an
 * attempt.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ActivityAnnouncement } from '../../worker/activity-hook';
import { closeServer, listenOnLoopback, readBody } from '../bed/process';
import type { World } from '../e2e/harness';

/** Where a `started:X#n` kill lands within attempt X#n: before its body runs, or once it has returned. */
export type ActivityPhase = ActivityAnnouncement['phase'];

/** Answers to an announcement: undefined = go on at once; a promise = hold the attempt until it settles. */
type HookListener = (announcement: ActivityAnnouncement) => Promise<void> | undefined;

/**
 * The loopback endpoint the engine's activity attempts announce themselves to when the engine runs
 * with FIREBREAK_TEST_ACTIVITY_HOOK = `url` (worker/activity-hook.ts). Every announcement is
 * answered at once unless a watcher holds it: the sweep holds the attempt of the boundary it kills
 * at, and SIGKILLs the engine while that attempt waits for its answer.
 */
export class ActivityHook {
  private readonly listeners = new Set<HookListener>();
  /** Announcements seen, for the report. */
  announcements = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async listen(): Promise<ActivityHook> {
    const server = createServer();
    const hook = new ActivityHook(server, `http://127.0.0.1:${await listenOnLoopback(server)}`);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => void hook.answer(request, response));
    return hook;
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const announcement = JSON.parse((await readBody(request, 64 * 1024)).toString()) as ActivityAnnouncement;
      this.announcements += 1;
      const holds = [...this.listeners].map((listener) => listener(announcement)).filter(Boolean);
      await Promise.all(holds);
    } catch {
      // A malformed announcement goes on like any other.
    }
    if (!response.destroyed) response.end('go');
  }

  /** Adds a listener; returns its removal. */
  on(listener: HookListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): Promise<void> {
    this.listeners.clear();
    return closeServer(this.server);
  }
}

const HOOKS = new WeakMap<World, ActivityHook>();

/** The world's engine announces its activity attempts to `hook` (its env carries hook.url). */
export function attachActivityHook(world: World, hook: ActivityHook): void {
  HOOKS.set(world, hook);
}

export function activityHookOf(world: World): ActivityHook | undefined {
  return HOOKS.get(world);
}
