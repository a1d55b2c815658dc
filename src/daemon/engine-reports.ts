import type { HealthReport } from '../api/api-options.js';
import type { EventLog } from '../events/event-log.js';
import type { EngineRuntime } from '../runtime/select-runtime.js';
import type { Logger } from '../util/logger.js';
import { EngineMonitor } from './engine-monitor.js';

// The Docker engine's outages, reported once each (a log line, an event), and its state
// as the API tells it (/healthz, the header on every answer). When the engine is back,
// everything is reconciled at once rather than when each object's error backoff ends.

export interface EngineReports {
  /** Checks the engine now; `degraded` while it does not answer. */
  health(): Promise<HealthReport>;
  /** The last known state, without a fresh check. */
  dockerState(): HealthReport['docker'];
  stop(): void;
}

export function watchEngine(
  runtime: EngineRuntime,
  events: EventLog,
  controller: { requestResync(): void },
  logger: Logger,
): EngineReports {
  const engineRef = { kind: 'Engine', name: runtime.endpoint };
  const record = events.recorder('controller');
  const where = { component: 'engine', endpoint: runtime.endpoint };
  const engine = new EngineMonitor({
    ping: () => runtime.ping(),
    onDown: (error) => {
      logger.error({ ...where, err: error }, 'Docker engine unreachable; cold requests get 503 until it is back');
      record.record(engineRef, 'Warning', 'EngineUnreachable', error);
    },
    onUp: (downForMs) => {
      logger.info({ ...where, downForMs }, 'Docker engine reachable again; reconciling everything');
      const after = `${Math.round(downForMs / 1000)}s`;
      record.record(
        engineRef,
        'Normal',
        'EngineReconnected',
        `the Docker engine at ${runtime.endpoint} answers again after ${after}`,
      );
      controller.requestResync();
    },
  });
  engine.start();
  const dockerState = (): HealthReport['docker'] => {
    const state = engine.state();
    return state.reachable ? { reachable: true } : { reachable: false, error: state.error };
  };
  return {
    health: async () => {
      await engine.check();
      const current = dockerState();
      return { status: current.reachable ? 'ok' : 'degraded', docker: current };
    },
    dockerState,
    stop: () => engine.stop(),
  };
}
