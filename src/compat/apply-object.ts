import { applyDocuments } from '../apply/apply.js';
import { uploadedContextResolver } from '../apply/context-resolvers.js';
import { parseManifests } from '../model/parse.js';
import type { LumaObject } from '../model/types.js';
import type { CompatContext } from './context.js';

// Every object a compat route makes or changes goes through the API's own write path:
// schema validation, admission (names, hostnames, lease bounds and caps, the image
// allowlist), then the store. `source` names the call in messages and events.

export async function applyObjects(ctx: CompatContext, objects: LumaObject[], source: string): Promise<LumaObject[]> {
  const text = objects.map((object) => JSON.stringify(object, null, 2)).join('\n---\n');
  const documents = parseManifests(text, source);
  const applied = await applyDocuments(ctx.store, documents, {
    settings: ctx.admission,
    resolveContext: uploadedContextResolver(ctx.contexts, new Map()),
  });
  return applied.map((result) => result.object);
}

export async function applyObject(ctx: CompatContext, object: LumaObject, source: string): Promise<LumaObject> {
  const [applied] = await applyObjects(ctx, [object], source);
  if (!applied) throw new Error(`applying ${object.kind} "${object.metadata.name}" stored nothing`);
  return applied;
}
