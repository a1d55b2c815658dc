import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LumaObject } from '../../src/model/types.js';
import { removeInstanceContainers, testInstance } from './docker.js';
import { removeInstanceImages } from './images.js';
import { apiFetch, runCli, startLuma, tempDir, type LumaProcess } from './luma.js';

// The compat e2e tests (test/e2e/compat): a real `luma up` with a `compat:` section in its
// operator settings, the earlier systems' calls made as their clients make them, and the
// objects they made read back with `luma get`.

export interface CompatLuma {
  luma: LumaProcess;
  instance: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startCompatLuma(label: string, config: string): Promise<CompatLuma> {
  const instance = testInstance(label);
  const dir = await tempDir(label);
  await mkdir(path.join(dir, 'manifests'));
  const file = path.join(dir, 'config.yaml');
  await writeFile(file, `resyncInterval: 1s\n${config}`);
  const luma = await startLuma({
    stateDir: path.join(dir, 'state'),
    manifests: path.join(dir, 'manifests'),
    instance,
    config: file,
  });
  return {
    luma,
    instance,
    dir,
    stop: async () => {
      await luma.stop();
      await removeInstanceContainers(instance);
      await removeInstanceImages(instance);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  json: unknown;
  text: string;
}

export interface CallOptions {
  body?: unknown;
  rawBody?: string | FormData;
  headers?: Record<string, string>;
  /** Send Luma's API token (default true). */
  token?: boolean;
}

/** An HTTP call to the API listener, as the earlier systems' clients make it (curl, fetch). */
export async function call(
  luma: LumaProcess,
  method: string,
  urlPath: string,
  options: CallOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token ?? true) headers.authorization = `Bearer ${luma.api.token}`;
  let body: string | FormData | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(new URL(urlPath, luma.server), {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
}

/** `luma get KIND -o json`: every object of a kind, as the CLI shows it. */
export async function lumaGet(luma: LumaProcess, kind: string): Promise<LumaObject[]> {
  const result = await runCli(['get', kind, '-o', 'json'], { api: luma.api });
  if (result.code !== 0) throw new Error(`luma get ${kind}: ${result.stderr}`);
  const parsed = JSON.parse(result.stdout) as { items?: LumaObject[] } | LumaObject[];
  return Array.isArray(parsed) ? parsed : (parsed.items ?? []);
}

export async function lumaGetOne(luma: LumaProcess, kind: string, name: string): Promise<LumaObject> {
  const result = await runCli(['get', kind, name, '-o', 'json'], { api: luma.api });
  if (result.code !== 0) throw new Error(`luma get ${kind} ${name}: ${result.stderr}`);
  return JSON.parse(result.stdout) as LumaObject;
}

/** Every stored object's name and spec generation (status writes aside), to show that a refused call changed nothing. */
export async function snapshot(luma: LumaProcess): Promise<string[]> {
  const names: string[] = [];
  for (const plural of ['projects', 'images', 'leases']) {
    const response = await apiFetch(luma.api, `/api/v1alpha1/${plural}`);
    const { items } = (await response.json()) as { items: LumaObject[] };
    for (const object of items) names.push(`${object.kind}/${object.metadata.name}@${object.metadata.generation ?? 0}`);
  }
  return names.sort();
}

export interface BadInputRow {
  what: string;
  method: string;
  path: string;
  options?: CallOptions;
  status: number;
  /** A piece of the `error` message. */
  message: string | RegExp;
}
