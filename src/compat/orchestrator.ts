import type { FastifyInstance } from 'fastify';
import type { CompatContext } from './context.js';
import { registerOrchestratorContainers } from './orchestrator-containers.js';
import { publishOrchestratorEvents } from './orchestrator-events.js';
import { registerOrchestratorImages } from './orchestrator-images.js';

// The Orchestrator (seed 004): images, containers and lifecycle events (orchestrator-*.ts).

export function registerOrchestrator(scope: FastifyInstance, ctx: CompatContext): void {
  registerOrchestratorImages(scope, ctx);
  registerOrchestratorContainers(scope, ctx);
  const stop = publishOrchestratorEvents(ctx);
  scope.addHook('onClose', async () => stop());
}
