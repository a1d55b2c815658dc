import type { Kind, LumaObject } from '../model/types.js';
import type { ApplyResult } from '../store/store.js';

// What the API and its clients agree on, without the server: the CLI imports this, not
// server.ts, so that a `luma get` does not load fastify and its plugins (seconds on a busy
// machine) to learn a path prefix.

export const API_PREFIX = '/api/v1alpha1';

/** Set on every answer while the engine is unreachable, so each CLI command can say so. */
export const DOCKER_STATE_HEADER = 'x-luma-docker-unreachable';

/** In a watch stream: sent once the current state has been streamed; data `{}`. */
export const WATCH_SYNCED_EVENT = 'SYNCED';

/**
 * In a watch or event stream: the last message before the server ends it, as Kubernetes
 * ends a watch with an ERROR event; data is a WatchError.
 */
export const WATCH_ERROR_EVENT = 'ERROR';

export interface WatchError {
  /** `TooSlow`: the client let too much pile up unread. */
  reason: string;
  message: string;
}

/** In the event stream: the name of each event's message. */
export const EVENT_STREAM_EVENT = 'event';

export interface ApplyReport {
  dryRun: boolean;
  results: Array<{ kind: Kind; name: string; result: ApplyResult; object?: LumaObject; live?: LumaObject | null }>;
}
