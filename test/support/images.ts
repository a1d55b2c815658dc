import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import type { Condition, ImageObject, ProjectObject, LeaseObject } from '../../src/model/types.js';
import { docker } from './docker.js';
import { apiFetch, type ApiEndpoint } from './luma.js';

// Helpers for the Image e2e tests: busybox build contexts written from files (nothing is
// pulled), the images a run built (found by its instance label), and API reads.

/** A busybox httpd serving /www on 8080, from `FROM scratch`. */
export const HTTPD_DOCKERFILE = [
  'FROM scratch',
  'COPY busybox /bin/busybox',
  'COPY www /www',
  'ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]',
  '',
].join('\n');

export type ContextFiles = Record<string, string | Buffer | { content: string | Buffer; mode: number }>;

/** Writes a build context: /bin/busybox as `busybox`, plus the given files. */
export async function writeContext(
  dir: string,
  files: ContextFiles,
  options: { busybox?: boolean } = {},
): Promise<string> {
  await mkdir(dir, { recursive: true });
  if (options.busybox ?? true) await copyFile('/bin/busybox', path.join(dir, 'busybox'));
  for (const [relative, value] of Object.entries(files)) {
    const file = path.join(dir, relative);
    await mkdir(path.dirname(file), { recursive: true });
    if (typeof value === 'string' || Buffer.isBuffer(value)) await writeFile(file, value);
    else {
      await writeFile(file, value.content);
      await chmod(file, value.mode);
    }
  }
  return dir;
}

/** A context whose httpd answers `body` at /. */
export function httpdContext(dir: string, body: string, extra: ContextFiles = {}): Promise<string> {
  return writeContext(dir, { Dockerfile: HTTPD_DOCKERFILE, 'www/index.html': body, ...extra });
}

export function imageManifest(name: string, spec: { context?: string; dockerfile?: string; ref?: string }): string {
  const lines = ['apiVersion: luma.dev/v1alpha1', 'kind: Image', 'metadata:', `  name: ${name}`, 'spec:'];
  if (spec.ref) lines.push(`  ref: ${spec.ref}`);
  else {
    lines.push('  build:', `    context: ${JSON.stringify(spec.context ?? '.')}`);
    if (spec.dockerfile) lines.push(`    dockerfile: ${spec.dockerfile}`);
  }
  return lines.join('\n') + '\n';
}

/** Docker images this test run built through Luma (Luma labels them with its instance). */
export async function imagesOf(instance: string, name?: string): Promise<Docker.ImageInfo[]> {
  const labels = [`luma.dev/instance=${instance}`];
  if (name) labels.push(`luma.dev/name=${name}`);
  return docker.listImages({ filters: { label: labels } });
}

export async function removeInstanceImages(instance: string): Promise<void> {
  for (const image of await imagesOf(instance)) {
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => undefined);
  }
}

/** Image names are global in Docker (`luma/NAME:hash`), so each run uses its own. */
export function uniqueName(base: string): string {
  return `${base}-${Math.random().toString(36).slice(2, 8)}`;
}

export class Api {
  constructor(readonly endpoint: ApiEndpoint) {}

  async image(name: string): Promise<ImageObject> {
    return (await this.json(`/api/v1alpha1/images/${name}`)) as ImageObject;
  }

  async project(name: string): Promise<ProjectObject> {
    return (await this.json(`/api/v1alpha1/projects/${name}`)) as ProjectObject;
  }

  async lease(name: string): Promise<LeaseObject> {
    return (await this.json(`/api/v1alpha1/leases/${name}`)) as LeaseObject;
  }

  async uploadContext(
    body: Buffer,
    type: string,
  ): Promise<{ status: number; json: { digest?: string; message?: string; error?: string } }> {
    const response = await apiFetch(this.endpoint, '/contexts', {
      method: 'POST',
      headers: { 'content-type': type },
      body,
    });
    return { status: response.status, json: (await response.json()) as { digest?: string; message?: string } };
  }

  async applyYaml(yaml: string): Promise<{
    status: number;
    json: { results?: Array<{ kind: string; name: string; result: string }>; message?: string };
  }> {
    const response = await apiFetch(this.endpoint, '/apply', {
      method: 'POST',
      headers: { 'content-type': 'application/yaml' },
      body: yaml,
    });
    return {
      status: response.status,
      json: (await response.json()) as { results?: Array<{ kind: string; name: string; result: string }> },
    };
  }

  private async json(urlPath: string): Promise<unknown> {
    const response = await apiFetch(this.endpoint, urlPath);
    if (!response.ok) throw new Error(`GET ${urlPath}: HTTP ${response.status} ${await response.text()}`);
    return response.json();
  }
}

export function readyCondition(object: { status?: { conditions?: Condition[] } }): Condition | undefined {
  return object.status?.conditions?.find((condition) => condition.type === 'Ready');
}
