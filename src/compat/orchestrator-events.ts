import { toCloudEvent } from '../events/cloudevents.js';
import { CONDITION_EVENT_SOURCE } from '../events/condition-events.js';
import { DEFAULT_WEBHOOK_SETTINGS, WebhookDispatcher } from '../events/webhooks.js';
import type { CompatContext } from './context.js';
import { imageMeta, isOrchestratorProject } from './orchestrator-model.js';

// The Orchestrator published container lifecycle events (with app_hostname) to Kafka.
// Here they are Luma's lifecycle CloudEvents of its images' Projects, with the seed's
// app_hostname and image_id added, POSTed by Luma's webhook dispatcher to the operator's
// compat.orchestrator.eventUrls (docs/compat.md: bridging them to a Kafka topic).

/** Returns the function that stops sending. */
export function publishOrchestratorEvents(ctx: CompatContext): () => void {
  const urls = ctx.settings.orchestrator.eventUrls;
  if (urls.length === 0 || !ctx.events) return () => undefined;
  const dispatcher = new WebhookDispatcher({ ...DEFAULT_WEBHOOK_SETTINGS, urls }, { logger: ctx.logger });
  const unsubscribe = ctx.events.subscribeRecorded((event) => {
    if (event.source === CONDITION_EVENT_SOURCE || event.object.kind !== 'Project') return;
    const project = ctx.store.get('Project', event.object.name);
    if (!project || !isOrchestratorProject(project)) return;
    const appHostname = imageMeta(project).app_hostname;
    const cloudEvent = toCloudEvent(event, { instance: ctx.admission.instance, hostname: appHostname });
    if (!cloudEvent) return;
    dispatcher.dispatch({
      ...cloudEvent,
      data: { ...cloudEvent.data, app_hostname: appHostname, image_id: project.metadata.name },
    } as typeof cloudEvent);
  });
  return () => {
    unsubscribe();
    dispatcher.close();
  };
}
