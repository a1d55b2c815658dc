import { API_VERSION, type ImageObject, type ProjectObject } from '../model/types.js';
import { SYSTEM_LABEL } from './context.js';

// The Orchestrator's (seed 004) images and containers as Luma objects. An image is an Image
// built from the uploaded archive plus a Project on its app_hostname; its containers are
// records on that Project (annotation), and the running ones are the Project's
// minInstances: Luma keeps that many instances up. Records are the only state kept here.

export const SYSTEM = 'orchestrator';
const META = 'compat.luma.dev/orchestrator';
const CONTAINERS = 'compat.luma.dev/orchestrator-containers';

export interface OrchestratorImage {
  name: string;
  tag: string;
  app_hostname: string;
  container_port: number;
  min_instances: number;
  max_instances: number;
  cpu_limit?: string;
  memory_limit?: string;
}

export interface ContainerRecord {
  id: string;
  status: 'running' | 'stopped';
  created_at: string;
}

export function imageMeta(project: ProjectObject): OrchestratorImage {
  return JSON.parse(project.metadata.annotations?.[META] ?? '{}') as OrchestratorImage;
}

export function recordsOf(project: ProjectObject): ContainerRecord[] {
  return JSON.parse(project.metadata.annotations?.[CONTAINERS] ?? '[]') as ContainerRecord[];
}

export function isOrchestratorProject(project: ProjectObject): boolean {
  return project.metadata.labels?.[SYSTEM_LABEL] === SYSTEM;
}

/** The Project as it must be stored: a pure builder, compared by apply with what is stored. */
export function projectFor(id: string, meta: OrchestratorImage, records: ContainerRecord[]): ProjectObject {
  const running = records.filter((record) => record.status === 'running').length;
  const resources = {
    ...(meta.cpu_limit !== undefined ? { cpu: meta.cpu_limit } : {}),
    ...(meta.memory_limit !== undefined ? { memory: meta.memory_limit } : {}),
  };
  return {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: {
      name: id,
      labels: { [SYSTEM_LABEL]: SYSTEM },
      annotations: { [META]: JSON.stringify(meta), [CONTAINERS]: JSON.stringify(records) },
    },
    spec: {
      image: id,
      hostnames: [meta.app_hostname],
      port: meta.container_port,
      ...(Object.keys(resources).length > 0 ? { resources } : {}),
      scaling: { minInstances: Math.max(meta.min_instances, running), maxInstances: meta.max_instances },
    },
  };
}

export function imageFor(id: string, digest: string): ImageObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Image',
    metadata: { name: id, labels: { [SYSTEM_LABEL]: SYSTEM } },
    spec: { build: { context: `upload:${digest}` } },
  };
}

/** `building` → `ready` | `build_failed`, from the Image's phase. */
export function imageStatus(image: ImageObject | undefined): 'building' | 'ready' | 'build_failed' {
  const phase = image?.status?.phase;
  if (phase === 'Ready') return 'ready';
  if (phase === 'Failed') return 'build_failed';
  return 'building';
}

export function imageView(project: ProjectObject, image: ImageObject | undefined): Record<string, unknown> {
  return {
    id: project.metadata.name,
    ...imageMeta(project),
    status: imageStatus(image),
    build_logs: (image?.status?.buildLog ?? '').slice(-8000),
    source_path: image?.spec.build?.context ?? '',
    image_tag: image?.status?.image ?? null,
    created_at: project.metadata.creationTimestamp ?? '',
  };
}

export function containerView(project: ProjectObject, record: ContainerRecord): Record<string, unknown> {
  return {
    ...record,
    image_id: project.metadata.name,
    app_hostname: imageMeta(project).app_hostname,
    container_port: imageMeta(project).container_port,
    instances_running: project.status?.instances?.running ?? 0,
  };
}
