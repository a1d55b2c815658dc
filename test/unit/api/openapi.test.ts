import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PREFIX, createApiServer } from '../../../src/api/server.js';
import { componentsOf, kindComponents } from '../../../src/api/openapi-schemas.js';
import { findSchemaDirectory, SCHEMA_FILES } from '../../../src/model/schemas.js';
import { API_VERSION, KIND_PLURALS, KINDS } from '../../../src/model/types.js';
import type { MetricsSummary } from '../../../src/metrics/project-summary.js';
import { PrometheusControllerMetrics } from '../../../src/metrics/prometheus-controller-metrics.js';
import { PrometheusProxyMetrics } from '../../../src/metrics/proxy-metrics.js';
import { createMetricsRegistry } from '../../../src/metrics/registry.js';
import { FileStore } from '../../../src/store/file-store.js';
import type { SyncStatus } from '../../../src/sync/sync-status.js';
import { AUTHORIZATION, authorizedInject, TEST_API_TOKEN } from '../../support/api-token.js';
import { testApiOptions } from '../../support/api-server.js';

// The OpenAPI document at /openapi.json: valid by a real OpenAPI 3.1 validator, every
// kind described from the JSON Schemas of schemas/, and true to what the routes answer
// (real answers validated against the document's own schemas).

interface Operation {
  security?: Array<Record<string, string[]>>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
type OpenApiDocument = {
  openapi: string;
  security: Array<Record<string, string[]>>;
  components: { schemas: Record<string, Record<string, unknown>>; securitySchemes: Record<string, unknown> };
  paths: Record<string, Record<string, Operation>>;
};

/** Every field of the sync status set, so that the document must describe each. */
const SYNC_STATUS: SyncStatus = {
  directory: 'manifests',
  exists: true,
  phase: 'Degraded',
  passes: 3,
  lastPassAt: '2026-12-07T10:00:00.000Z',
  files: [
    { file: 'web.yaml', state: 'Applied', objects: ['Project/web'] },
    {
      file: 'bad.yaml',
      state: 'Invalid',
      objects: [],
      issues: [{ file: 'bad.yaml', line: 3, column: 5, path: 'spec.port', message: 'expected an integer' }],
      message: 'invalid',
    },
  ],
  conflicts: [{ object: 'Project/api', files: ['a.yaml', 'b.yaml'], message: 'declared twice' }],
  pruned: ['Lease/old'],
  pruneWaiting: { objects: ['Project/gone'], until: '2026-12-07T10:00:05.000Z' },
  pruneWithheld: { objects: ['Project/a'], reason: 'empty directory', retryAt: '2026-12-07T10:05:00.000Z' },
  error: 'the store refused a write',
};

const metrics = createMetricsRegistry();
const controllerMetrics = new PrometheusControllerMetrics(metrics);
const proxyMetrics = new PrometheusProxyMetrics(metrics);

let dir: string;
let store: FileStore;
let app: FastifyInstance;
let document: OpenApiDocument;
const inject = authorizedInject(() => app);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'luma-openapi-'));
  store = await FileStore.open(path.join(dir, 'state'));
  app = await createApiServer(
    testApiOptions(store, dir, {
      wake: () => undefined,
      sync: { status: () => SYNC_STATUS, passNow: async () => SYNC_STATUS },
      metrics,
    }),
  );
  document = (await inject({ url: '/openapi.json' })).json<OpenApiDocument>();
});

afterAll(async () => {
  await app.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the OpenAPI document', () => {
  it('passes the OpenAPI 3.1 validator', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('is refused by the same validator once a component it refers to is taken out', async () => {
    const broken = structuredClone(document);
    delete broken.components.schemas['Project.metadata'];
    const result = await new Validator().validate(broken);
    expect(result.valid).toBe(false);
    expect(String(result.errors)).toContain('#/components/schemas/Project.metadata');
  });

  it('declares every security scheme an operation names', () => {
    const named = new Set(document.security.flatMap(Object.keys));
    for (const methods of Object.values(document.paths))
      for (const operation of Object.values(methods))
        for (const requirement of operation.security ?? [])
          for (const name of Object.keys(requirement)) named.add(name);
    expect([...named].sort()).toEqual(['bearerAuth', 'consoleSession', 'queryToken']);
    for (const name of named) expect(document.components.securitySchemes[name], name).toBeDefined();
  });

  it('declares the bearer token and the console cookie, and leaves /healthz open', () => {
    expect(document.components.securitySchemes).toMatchObject({
      bearerAuth: { type: 'http', scheme: 'bearer' },
      consoleSession: { type: 'apiKey', in: 'cookie', name: 'luma_console' },
    });
    expect(document.security).toEqual([{ bearerAuth: [] }, { consoleSession: [] }]);
    expect(document.paths['/healthz']?.get?.security).toEqual([]);
  });

  it('describes every kind with the JSON Schema of schemas/', () => {
    for (const kind of KINDS) {
      type KindSchema = { properties: Record<string, { properties?: Record<string, unknown> }> };
      const file = JSON.parse(readFileSync(path.join(findSchemaDirectory(), SCHEMA_FILES[kind]), 'utf8')) as KindSchema;
      const described = document.components.schemas[kind] as KindSchema;
      // A Secret keeps its values beside metadata, as in Kubernetes: it has no spec.
      const fields = (schema: KindSchema): string[] =>
        Object.keys(schema.properties.spec?.properties ?? schema.properties);
      expect(fields(described)).toEqual(fields(file));
    }
  });

  it('points every $ref at a component it holds', () => {
    const refs = JSON.stringify(document).match(/"\$ref":"[^"]*"/g) ?? [];
    expect(refs.length).toBeGreaterThan(KINDS.length * 5);
    for (const ref of refs) {
      const target = /#\/components\/schemas\/(.+)"$/.exec(ref)?.[1];
      expect(target && document.components.schemas[target], ref).toBeTruthy();
    }
  });

  it("gives each kind's routes its schema for the body and the answer", () => {
    for (const kind of KINDS) {
      const ref = { $ref: `#/components/schemas/${kind}` };
      const one = document.paths[`${API_PREFIX}/${KIND_PLURALS[kind]}/{name}`];
      expect(one?.get?.responses['200']?.content?.['application/json']?.schema).toEqual(ref);
      expect(one?.put?.requestBody?.content['application/json']?.schema).toEqual(ref);
      expect(one?.put?.responses['422']?.content?.['application/json']?.schema).toEqual({
        $ref: '#/components/schemas/Error',
      });
      expect(one?.delete?.responses['200']?.content?.['application/json']?.schema).toEqual(ref);
      const list = document.paths[`${API_PREFIX}/${KIND_PLURALS[kind]}`]?.get;
      expect(list?.responses['200']?.content?.['application/json']?.schema).toMatchObject({
        properties: { items: { items: ref } },
      });
    }
  });
});

describe('answers match the document', () => {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, discriminator: true });
  let validate: (status: number, method: string, route: string, body: unknown) => void;

  beforeAll(() => {
    ajv.addSchema(document, 'luma');
    validate = (status, method, route, body) => {
      const schema = document.paths[route]?.[method]?.responses[String(status)]?.content?.['application/json']?.schema;
      expect(schema, `${method} ${route} ${status}`).toBeDefined();
      const check = ajv.compile({
        $ref: `luma#/paths/${route.replaceAll('/', '~1')}/${method}/responses/${status}/content/application~1json/schema`,
      });
      expect(check(body), JSON.stringify(check.errors)).toBe(true);
    };
  });

  const web = {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: 'web', labels: { app: 'web' } },
    spec: { image: 'busybox:1.36', hostnames: ['web.localhost'], scaling: { maxInstances: 2 } },
  };
  const one = `${API_PREFIX}/projects/{name}`;

  it('for a Project put, read, listed, applied and deleted', async () => {
    const put = await inject({ method: 'PUT', url: `${API_PREFIX}/projects/web`, payload: web });
    expect(put.statusCode).toBe(200);
    validate(200, 'put', one, put.json());
    validate(200, 'get', one, (await inject({ url: `${API_PREFIX}/projects/web` })).json());
    validate(200, 'get', `${API_PREFIX}/projects`, (await inject({ url: `${API_PREFIX}/projects` })).json());
    const dryRun = await inject({
      method: 'POST',
      url: '/apply?dryRun=true',
      headers: { 'content-type': 'application/yaml' },
      payload: `apiVersion: ${API_VERSION}\nkind: Project\nmetadata:\n  name: web\nspec:\n  image: busybox:1.37\n  hostnames: [web.localhost]\n`,
    });
    validate(200, 'post', '/apply', dryRun.json());
    const woken = await inject({ method: 'POST', url: `${API_PREFIX}/projects/web/wake` });
    validate(202, 'post', `${API_PREFIX}/projects/{name}/wake`, woken.json());
    const deleted = await inject({ method: 'DELETE', url: `${API_PREFIX}/projects/web` });
    validate(200, 'delete', one, deleted.json());
  });

  it('for refusals: unknown, invalid with issues', async () => {
    const missing = await inject({ url: `${API_PREFIX}/projects/nobody` });
    expect(missing.statusCode).toBe(404);
    validate(404, 'get', one, missing.json());
    const invalid = await inject({
      method: 'PUT',
      url: `${API_PREFIX}/projects/web`,
      payload: { ...web, spec: { ...web.spec, port: 'eighty' } },
    });
    expect(invalid.statusCode).toBe(422);
    validate(422, 'put', one, invalid.json());
  });

  it('for the sync status, a pass and the per-project metrics', async () => {
    validate(200, 'get', `${API_PREFIX}/sync`, (await inject({ url: `${API_PREFIX}/sync` })).json());
    const pass = await inject({ method: 'POST', url: `${API_PREFIX}/sync`, payload: { force: true } });
    validate(200, 'post', `${API_PREFIX}/sync`, pass.json());
    controllerMetrics.coldStartPhase('web', 'fresh', 'create', 0.2);
    controllerMetrics.coldStart('web', 'fresh', 0.4);
    proxyMetrics.requestFinished('web', 200, 0.01);
    const summary = await inject({ url: `${API_PREFIX}/metrics/projects` });
    expect(summary.json<MetricsSummary>().projects).toMatchObject([{ project: 'web', coldStarts: 1 }]);
    validate(200, 'get', `${API_PREFIX}/metrics/projects`, summary.json());
  });

  it('for events and usage', async () => {
    validate(200, 'get', `${API_PREFIX}/events`, (await inject({ url: `${API_PREFIX}/events` })).json());
    validate(200, 'get', `${API_PREFIX}/usage`, (await inject({ url: `${API_PREFIX}/usage` })).json());
    const health = await app.inject({ url: '/healthz' });
    validate(200, 'get', '/healthz', health.json());
    expect(AUTHORIZATION.authorization).toContain(TEST_API_TOKEN);
  });
});

describe('kindComponents', () => {
  it("places a schema file's definitions as components of their own", () => {
    const components = componentsOf('Widget', {
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'https://luma.dev/schemas/v1alpha1/widget.schema.json',
      type: 'object',
      properties: { metadata: { $ref: '#/definitions/metadata' }, size: { $ref: '#/$defs/size' } },
      definitions: {
        metadata: { type: 'object', properties: { name: { $ref: '#/definitions/name' } } },
        name: { type: 'string' },
      },
      $defs: { size: { type: 'integer' } },
    });
    expect(components).toEqual({
      Widget: {
        type: 'object',
        properties: {
          metadata: { $ref: '#/components/schemas/Widget.metadata' },
          size: { $ref: '#/components/schemas/Widget.size' },
        },
      },
      'Widget.metadata': { type: 'object', properties: { name: { $ref: '#/components/schemas/Widget.name' } } },
      'Widget.name': { type: 'string' },
      'Widget.size': { type: 'integer' },
    });
  });

  it('refuses a reference it cannot place, naming it', () => {
    expect(() => componentsOf('Widget', { properties: { x: { $ref: 'other.json#/a' } } })).toThrow(
      'schema of Widget: cannot place "$ref": "other.json#/a" in the OpenAPI document',
    );
  });

  it('reads every kind of KINDS from schemas/', () => {
    expect(Object.keys(kindComponents()).filter((name) => !name.includes('.'))).toEqual([...KINDS]);
  });
});
