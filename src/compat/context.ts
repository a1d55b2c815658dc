import type { AdmissionSettings } from '../apply/admission.js';
import type { EventLog } from '../events/event-log.js';
import type { ContextStore } from '../images/context-store.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { CompatSettings } from './settings.js';

// What every compat module gets: the API's own store, admission rules and token, so that
// nothing a compat route does takes a path the API itself does not.

export interface CompatContext {
  store: ObjectStore;
  contexts: ContextStore;
  admission: AdmissionSettings;
  settings: CompatSettings;
  runtime: ContainerRuntime;
  events: EventLog | undefined;
  logger: Logger;
  token: string;
  logHeartbeatIntervalMs: number;
  clock: Clock;
  maxUploadBytes: number;
}

/** Label on every object a compat route makes: which system's call made it. */
export const SYSTEM_LABEL = 'compat.luma.dev/system';

/** Random ids for objects the earlier systems named themselves (DNS-label safe). */
export function randomId(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10).padEnd(8, '0')}`;
}
