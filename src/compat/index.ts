import type { FastifyInstance } from 'fastify';
import type { AdmissionSettings } from '../apply/admission.js';
import type { EventLog } from '../events/event-log.js';
import type { ContextStore } from '../images/context-store.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { CompatContext } from './context.js';
import { registerContainerLease } from './container-lease.js';
import { registerContainerPool } from './container-pool.js';
import { registerContainersApiRule } from './containers-api.js';
import { compatErrorHandler } from './errors.js';
import { DEFAULT_COMPAT_SETTINGS, type CompatSettings } from './settings.js';
import { registerOrchestrator } from './orchestrator.js';
import { registerStudio } from './studio.js';
import { registerV1Projects } from './v1-projects.js';

// The earlier systems' interfaces (docs/compat.md), served on Luma's API listener. One
// module per system; each turns its calls into Luma objects through the API's write path.

export interface CompatOptions {
  store: ObjectStore;
  contexts: ContextStore;
  admission: AdmissionSettings;
  compat?: CompatSettings;
  runtime: ContainerRuntime;
  events?: EventLog;
  logger: Logger;
  token: string;
  logHeartbeatIntervalMs: number;
  clock?: Clock;
  maxUploadBytes: number;
}

/** `curl -X POST … -H "Content-Type: application/json"` with no body, as the seeds' examples send. */
function acceptEmptyJson(scope: FastifyInstance): void {
  const parseJson = scope.getDefaultJsonParser('error', 'error');
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body.length === 0) done(null, {});
    else parseJson(request, body.toString(), done);
  });
}

/** Registers every system's routes in a scope of their own (their own error answers). */
export async function registerCompat(app: FastifyInstance, options: CompatOptions): Promise<void> {
  const ctx: CompatContext = {
    ...options,
    events: options.events,
    settings: options.compat ?? DEFAULT_COMPAT_SETTINGS,
    clock: options.clock ?? systemClock,
    logger: options.logger.child({ component: 'compat' }),
  };
  await app.register(async (scope) => {
    scope.setErrorHandler(compatErrorHandler(ctx.logger));
    acceptEmptyJson(scope);
    registerV1Projects(scope, ctx);
    registerContainerLease(scope, ctx);
    await registerContainerPool(scope, ctx);
    registerStudio(scope);
    registerOrchestrator(scope, ctx);
    registerContainersApiRule(scope, ctx);
  });
}
