import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ManifestError, formatIssue, parseManifests, type ManifestIssue } from '../../../src/model/parse.js';

/** A Project spec's fields in the schema's order: the list an unknown-field error gives. */
const PROJECT_SPEC_FIELDS = Object.keys(
  (
    JSON.parse(readFileSync(new URL('../../../schemas/project.schema.json', import.meta.url), 'utf8')) as {
      properties: { spec: { properties: Record<string, unknown> } };
    }
  ).properties.spec.properties,
).join(', ');

// Each error case asserts the whole formatted line, `file:line:column: path: message`,
// so position, path and wording are all pinned. Manifests are written as arrays of lines
// so that the line numbers in the expectations can be counted.

const FILE = 'app.yaml';

function text(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

/** A valid Project; spec lines (indented by two) are appended from line 8 on. */
function project(...specLines: string[]): string {
  return text(
    'apiVersion: luma.dev/v1alpha1', // 1
    'kind: Project', // 2
    'metadata:', // 3
    '  name: hello', // 4
    'spec:', // 5
    '  image: hello', // 6
    '  hostnames: [hello.localhost]', // 7
    ...specLines,
  );
}

/** A valid Lease; spec lines are appended from line 8 on. */
function lease(...specLines: string[]): string {
  return text(
    'apiVersion: luma.dev/v1alpha1', // 1
    'kind: Lease', // 2
    'metadata:', // 3
    '  name: trial', // 4
    'spec:', // 5
    '  project: hello', // 6
    '  ttl: 30m', // 7
    ...specLines,
  );
}

function manifestError(source: string, file = FILE): ManifestError {
  try {
    parseManifests(source, file);
  } catch (error) {
    if (error instanceof ManifestError) return error;
    throw error;
  }
  throw new Error('expected the manifest to be refused');
}

function errorsOf(source: string, file = FILE): string[] {
  return manifestError(source, file).issues.map(formatIssue);
}

describe('parseManifests: valid input', () => {
  it('returns the object with its source', () => {
    const [doc, ...rest] = parseManifests(project(), FILE);
    expect(rest).toEqual([]);
    expect(doc?.object).toEqual({
      apiVersion: 'luma.dev/v1alpha1',
      kind: 'Project',
      metadata: { name: 'hello' },
      spec: { image: 'hello', hostnames: ['hello.localhost'] },
    });
    expect(doc?.source).toEqual({ file: FILE, document: 0 });
  });

  it('accepts a Project that uses every field', () => {
    const source = project(
      '  port: 3000',
      '  env: { LOG_LEVEL: debug, EMPTY: "" }',
      '  command: [busybox, httpd]',
      '  args: [-f, -p, "3000"]',
      '  resources: { cpu: 500m, memory: 256Mi }',
      '  scaling: { minInstances: 1, maxInstances: 3, targetConcurrency: 10, idleTimeout: 5m, pauseAfter: 30s }',
      '  pool: { size: 2 }',
      '  readiness: { tcpSocket: {}, startupTimeout: 45s }',
      '  liveness: { httpGet: { path: /healthz }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2, initialDelaySeconds: 10 }',
      '  tls: true',
    );
    const [doc] = parseManifests(source, FILE);
    expect(doc?.object.spec).toMatchObject({
      port: 3000,
      tls: true,
      args: ['-f', '-p', '3000'],
      readiness: { tcpSocket: {}, startupTimeout: '45s' },
      liveness: { httpGet: { path: '/healthz' }, periodSeconds: 5, failureThreshold: 2 },
    });
  });

  it('accepts the Image forms and a Lease', () => {
    const source = text(
      'apiVersion: luma.dev/v1alpha1',
      'kind: Image',
      'metadata: { name: built }',
      'spec: { build: { context: ./app, dockerfile: Dockerfile.dev, args: { VERSION: "1" } } }',
      '---',
      'apiVersion: luma.dev/v1alpha1',
      'kind: Image',
      'metadata: { name: pulled }',
      'spec: { ref: "registry.example.com:5000/team/app:v2" }',
      '---',
      'apiVersion: luma.dev/v1alpha1',
      'kind: Lease',
      'metadata: { name: trial }',
      'spec: { project: hello, ttl: 1h, resources: { cpu: "1", memory: 1Gi }, env: { A: b }, idleTimeout: 10m }',
    );
    expect(parseManifests(source, FILE).map((doc) => `${doc.object.kind}/${doc.object.metadata.name}`)).toEqual([
      'Image/built',
      'Image/pulled',
      'Lease/trial',
    ]);
  });

  it('reads every document of a stream and skips empty ones', () => {
    const source = text(
      '---', // 1: leading marker, no empty document before it
      'apiVersion: luma.dev/v1alpha1', // 2
      'kind: Image',
      'metadata: { name: one }',
      'spec: { ref: busybox }',
      '---', // 6
      '# only a comment',
      '---', // 8
      'apiVersion: luma.dev/v1alpha1', // 9
      'kind: Image',
      'metadata: { name: two }',
      'spec: { ref: busybox }',
      '---', // trailing marker
    );
    const docs = parseManifests(source, FILE);
    expect(docs.map((doc) => [doc.object.metadata.name, doc.source.document])).toEqual([
      ['one', 0],
      ['two', 2],
    ]);
    expect(docs[1]?.position(['metadata', 'name'])).toEqual({ line: 11, column: 19 });
  });

  it('returns nothing for empty text or only comments', () => {
    expect(parseManifests('', FILE)).toEqual([]);
    expect(parseManifests('# nothing here\n', FILE)).toEqual([]);
    expect(parseManifests('---\n---\n', FILE)).toEqual([]);
  });

  it('reads JSON', () => {
    const json = JSON.stringify(
      {
        apiVersion: 'luma.dev/v1alpha1',
        kind: 'Project',
        metadata: { name: 'hello' },
        spec: { image: 'hello', hostnames: ['a.localhost', 'b.localhost'] },
      },
      null,
      2,
    );
    const [doc] = parseManifests(json, 'projects/hello');
    expect(doc?.object.metadata.name).toBe('hello');
    expect(doc?.position(['spec', 'hostnames', 1])).toEqual({ line: 11, column: 7 });
  });

  it('drops status and server-set metadata but keeps resourceVersion', () => {
    const source = text(
      'apiVersion: luma.dev/v1alpha1',
      'kind: Image',
      'metadata:',
      '  name: app',
      '  uid: 0b6f1c2e',
      '  generation: 4',
      '  resourceVersion: "17"',
      '  creationTimestamp: "2024-01-01T00:00:00Z"',
      '  labels: { tier: web, "example.com/team": core }',
      '  annotations: { "example.com/note": "anything at all" }',
      'spec: { ref: busybox }',
      'status: { phase: Ready, image: "luma/app:abc" }',
    );
    const [doc] = parseManifests(source, FILE);
    expect(doc?.object).toEqual({
      apiVersion: 'luma.dev/v1alpha1',
      kind: 'Image',
      metadata: {
        name: 'app',
        resourceVersion: '17',
        labels: { tier: 'web', 'example.com/team': 'core' },
        annotations: { 'example.com/note': 'anything at all' },
      },
      spec: { ref: 'busybox' },
    });
  });

  it('follows aliases', () => {
    const source = text(
      'apiVersion: luma.dev/v1alpha1',
      'kind: Project',
      'metadata: { name: hello }',
      'spec:',
      '  image: hello',
      '  hostnames: [hello.localhost]',
      '  env: &common { A: "1" }',
      '  resources: { cpu: 500m }',
    );
    expect(parseManifests(source, FILE)[0]?.object.spec).toMatchObject({ env: { A: '1' } });
  });
});

describe('ParsedDocument.position', () => {
  const [doc] = parseManifests(
    project(
      '  env:', // 8
      '    GREETING: hello', // 9
      '  command:', // 10
      '    - sleep', // 11
      '    - "10"', // 12
      '  tls: false', // 13
    ),
    FILE,
  );
  if (!doc) throw new Error('expected a document');

  it('points at a scalar value', () => {
    expect(doc.position(['metadata', 'name'])).toEqual({ line: 4, column: 9 });
    expect(doc.position(['spec', 'env', 'GREETING'])).toEqual({ line: 9, column: 15 });
  });

  it('points at items of flow and block lists', () => {
    expect(doc.position(['spec', 'hostnames', 0])).toEqual({ line: 7, column: 15 });
    expect(doc.position(['spec', 'command', 1])).toEqual({ line: 12, column: 7 });
  });

  it('points at the key of a block collection, and at the start of a flow one', () => {
    expect(doc.position(['spec'])).toEqual({ line: 5, column: 1 });
    expect(doc.position(['spec', 'env'])).toEqual({ line: 8, column: 3 });
    expect(doc.position(['spec', 'hostnames'])).toEqual({ line: 7, column: 14 });
  });

  it('falls back to the nearest field that exists', () => {
    expect(doc.position(['spec', 'scaling', 'idleTimeout'])).toEqual({ line: 5, column: 1 });
    expect(doc.position(['spec', 'hostnames', 5])).toEqual({ line: 7, column: 14 });
    expect(doc.position([])).toEqual({ line: 1, column: 1 });
  });
});

describe('parseManifests: YAML syntax', () => {
  it('reports a duplicate key where the second one is', () => {
    expect(errorsOf(project('  image: other'))).toEqual(['app.yaml:8:3: invalid YAML: map keys must be unique']);
  });

  it('reports bad indentation, tabs and unclosed flow collections', () => {
    expect(errorsOf(text('kind: Project', 'spec:', '  image: a', ' port: 8'))).toEqual([
      'app.yaml:4:1: invalid YAML: all mapping items must start at the same column',
    ]);
    expect(errorsOf(text('kind: Project', 'spec:', '\timage: a'))).toEqual([
      'app.yaml:3:1: invalid YAML: tabs are not allowed as indentation',
    ]);
    expect(errorsOf(text('kind: Project', 'spec: { image: a', 'x: 1'))).toEqual([
      'app.yaml:3:1: invalid YAML: flow map in block collection must be sufficiently indented and end with a }',
    ]);
    expect(errorsOf(text('{"kind": "Project", "spec": {"port": 1}'), 'app.json')).toEqual([
      'app.json:2:1: invalid YAML: flow map must end with a }',
    ]);
  });

  it('reports a nested mapping on one line', () => {
    expect(errorsOf(text('kind: Project', 'spec: image: a'))).toEqual([
      'app.yaml:2:7: invalid YAML: nested mappings are not allowed in compact mappings',
    ]);
  });

  it('reports unresolved tags', () => {
    expect(errorsOf(project('  port: !port 80'))).toEqual(['app.yaml:8:9: invalid YAML: unresolved tag: !port']);
  });

  it('refuses a list or mapping used as a key', () => {
    expect(errorsOf(text('? [a, b]', ': c'))).toEqual([
      'app.yaml:1:3: expected a plain key, got a list or mapping as a key',
    ]);
  });

  it('refuses alias bombs instead of expanding them', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const [previous, name] of [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
      ['d', 'e'],
    ])
      lines.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(', ')}]`);
    expect(errorsOf(text(...lines))).toEqual([
      'app.yaml:1:1: cannot read this document: Excessive alias count indicates a resource exhaustion attack',
    ]);
  });

  it('still validates the other documents of the stream', () => {
    const source = `${project('  image: again')}---\n${project('  replicas: 2')}`;
    expect(errorsOf(source)).toEqual([
      'app.yaml:8:3: invalid YAML: map keys must be unique',
      `app.yaml:17:3: spec.replicas: unknown field "replicas" (allowed: ${PROJECT_SPEC_FIELDS})`,
    ]);
  });
});

describe('parseManifests: document shape and kind', () => {
  it('refuses a document that is not a mapping', () => {
    expect(errorsOf(text('- kind: Project'))).toEqual([
      'app.yaml:1:1: expected a mapping with apiVersion, kind, metadata and spec, got a list',
    ]);
    expect(errorsOf(text('---', 'just text'))).toEqual([
      'app.yaml:2:1: expected a mapping with apiVersion, kind, metadata and spec, got a string (not shown)',
    ]);
    expect(errorsOf('null\n')).toEqual([
      'app.yaml:1:1: expected a mapping with apiVersion, kind, metadata and spec, got an empty value',
    ]);
  });

  it('refuses a missing kind, naming the known kinds', () => {
    expect(errorsOf(text('apiVersion: luma.dev/v1alpha1', 'metadata: { name: x }'))).toEqual([
      'app.yaml:1:1: missing required field "kind" (one of Project, Image, Lease, Secret)',
    ]);
  });

  it('refuses an unknown kind, naming the known kinds or the likely one', () => {
    expect(errorsOf(text('apiVersion: apps/v1', 'kind: Deployment'))).toEqual([
      'app.yaml:2:7: kind: unknown kind "Deployment"; expected one of Project, Image, Lease, Secret',
    ]);
    expect(errorsOf(text('kind: project'))).toEqual([
      'app.yaml:1:7: kind: unknown kind "project"; did you mean "Project"?',
    ]);
    expect(errorsOf(text('kind: 3'))).toEqual([
      'app.yaml:1:7: kind: expected one of Project, Image, Lease, Secret, got integer 3',
    ]);
  });

  it('refuses a Revision, which only the controller records, at its kind', () => {
    const revision = text(
      'apiVersion: luma.dev/v1alpha1',
      'kind: Revision',
      'metadata: { name: web-1 }',
      'spec: { project: web, projectUid: u, number: 1, image: x, template: {} }',
    );
    expect(errorsOf(revision)).toEqual([
      "app.yaml:2:7: kind: Revision objects are recorded by the controller when a project's change alters what runs; they cannot be applied (change the Project instead)",
    ]);
  });

  it('refuses a wrong or missing apiVersion', () => {
    expect(errorsOf(project().replace('luma.dev/v1alpha1', 'luma.dev/v1'))).toEqual([
      'app.yaml:1:13: apiVersion: expected "luma.dev/v1alpha1", got string "luma.dev/v1"',
    ]);
    expect(errorsOf(project().replace('apiVersion: luma.dev/v1alpha1', 'apiVersion: 1'))).toEqual([
      'app.yaml:1:13: apiVersion: expected "luma.dev/v1alpha1", got integer 1',
    ]);
    expect(errorsOf(project().replace('apiVersion: luma.dev/v1alpha1\n', ''))).toEqual([
      'app.yaml:1:1: missing required field "apiVersion"',
    ]);
  });
});

describe('parseManifests: types', () => {
  it('names the expected type and the found type and value', () => {
    expect(errorsOf(project('  port: two'))).toEqual(['app.yaml:8:9: spec.port: expected integer, got string "two"']);
    expect(errorsOf(project('  port: 80.5'))).toEqual(['app.yaml:8:9: spec.port: expected integer, got number 80.5']);
    expect(errorsOf(project('  tls: yes'))).toEqual([
      'app.yaml:8:8: spec.tls: expected boolean (true or false), got string "yes"',
    ]);
    expect(errorsOf(project('  command: sleep 10'))).toEqual([
      'app.yaml:8:12: spec.command: expected a list, got string "sleep 10"',
    ]);
    expect(errorsOf(project('  scaling: [1]'))).toEqual([
      'app.yaml:8:12: spec.scaling: expected a mapping, got a list',
    ]);
    expect(errorsOf(project('  scaling: { minInstances: "1" }'))).toEqual([
      'app.yaml:8:28: spec.scaling.minInstances: expected integer, got string "1"',
    ]);
  });

  it('points at the key of an empty value', () => {
    expect(errorsOf(project('  resources:'))).toEqual([
      'app.yaml:8:3: spec.resources: expected a mapping, got an empty value',
    ]);
  });

  it('asks for quotes around env values that YAML read as numbers or booleans', () => {
    expect(
      errorsOf(
        project(
          '  env:', // 8
          '    PORT: 8080', // 9
          '    DEBUG: true', // 10
          '    VERSION: 1.10', // 11
          '    NAME: ok', // 12
          '    NOTHING:', // 13
        ),
      ),
    ).toEqual([
      'app.yaml:9:11: spec.env.PORT: expected string; quote the value ("8080")',
      'app.yaml:10:12: spec.env.DEBUG: expected string; quote the value ("true")',
      'app.yaml:11:14: spec.env.VERSION: expected string; quote the value ("1.10")',
      'app.yaml:13:5: spec.env.NOTHING: expected string or a mapping, got an empty value',
    ]);
  });

  it('asks for quotes in command arguments and label values too', () => {
    expect(errorsOf(project('  command: [sleep, 10]'))).toEqual([
      'app.yaml:8:20: spec.command[1]: expected string; quote the value ("10")',
    ]);
  });
});

describe('parseManifests: unknown fields', () => {
  it('points at the unknown key and lists the allowed fields', () => {
    expect(errorsOf(project('  replicas: 3'))).toEqual([
      `app.yaml:8:3: spec.replicas: unknown field "replicas" (allowed: ${PROJECT_SPEC_FIELDS})`,
    ]);
  });

  it('suggests the field that was probably meant', () => {
    expect(errorsOf(project('  scaling:', '    maxInstance: 3'))).toEqual([
      'app.yaml:9:5: spec.scaling.maxInstance: unknown field "maxInstance"; did you mean "maxInstances"?',
    ]);
  });

  it('refuses unknown fields at the top, in metadata and where no field is allowed', () => {
    expect(
      errorsOf(
        project('  readiness: { tcpSocket: { port: 80 } }').replace('metadata:\n', 'metadata:\n  namespace: default\n'),
      ),
    ).toEqual([
      'app.yaml:4:3: metadata.namespace: unknown field "namespace" (allowed: name, labels, annotations, uid, generation, resourceVersion, creationTimestamp, finalizers, deletionTimestamp)',
      'app.yaml:9:29: spec.readiness.tcpSocket.port: unknown field "port"; this mapping takes no fields',
    ]);
    expect(errorsOf(`${project()}specs: {}\n`)).toEqual([
      'app.yaml:8:1: specs: unknown field "specs"; did you mean "spec"?',
    ]);
  });

  it('points at the key in JSON too', () => {
    const json =
      '{"apiVersion": "luma.dev/v1alpha1", "kind": "Lease",\n "metadata": {"name": "x"},\n "spec": {"project": "p", "ttl": "10m", "extra": 1}}';
    expect(errorsOf(json, 'lease.json')).toEqual([
      'lease.json:3:41: spec.extra: unknown field "extra" (allowed: project, ttl, resources, env, idleTimeout)',
    ]);
  });
});

describe('parseManifests: missing fields', () => {
  it('points at the mapping that lacks the field', () => {
    expect(errorsOf(project().replace('  image: hello\n', ''))).toEqual([
      'app.yaml:5:1: spec: missing required field "image"',
    ]);
    expect(errorsOf(project().replace('  name: hello\n', '  labels: {}\n'))).toEqual([
      'app.yaml:3:1: metadata: missing required field "name"',
    ]);
  });

  it('points at the document for a missing top-level field', () => {
    expect(errorsOf(text('apiVersion: luma.dev/v1alpha1', 'kind: Lease', 'metadata: { name: x }'))).toEqual([
      'app.yaml:1:1: missing required field "spec"',
    ]);
  });

  it('points at a flow mapping where it starts', () => {
    expect(
      errorsOf(text('apiVersion: luma.dev/v1alpha1', 'kind: Lease', 'metadata: { name: x }', 'spec: { project: p }')),
    ).toEqual(['app.yaml:4:7: spec: missing required field "ttl"']);
  });

  it('says "exactly one of" for an Image with neither or both sources', () => {
    const image = (spec: string): string =>
      text('apiVersion: luma.dev/v1alpha1', 'kind: Image', 'metadata: { name: app }', ...spec.split('\n'));
    expect(errorsOf(image('spec: {}'))).toEqual([
      'app.yaml:4:7: spec: missing required field: set one of "build" or "ref"',
    ]);
    expect(errorsOf(image('spec:\n  build: { context: . }\n  ref: busybox'))).toEqual([
      'app.yaml:6:3: spec: "build" and "ref" cannot both be set; choose one',
    ]);
    expect(errorsOf(image('spec:\n  build: { dockerfile: x }'))).toEqual([
      'app.yaml:5:10: spec.build: missing required field "context"',
    ]);
  });

  it('refuses both readiness probes at once', () => {
    expect(errorsOf(project('  readiness:', '    httpGet: { path: /healthz }', '    tcpSocket: {}'))).toEqual([
      'app.yaml:10:5: spec.readiness: "httpGet" and "tcpSocket" cannot both be set; choose one',
    ]);
  });

  it('asks a liveness check for exactly one of httpGet and tcpSocket', () => {
    expect(errorsOf(project('  liveness: { periodSeconds: 5 }'))).toEqual([
      'app.yaml:8:13: spec.liveness: missing required field: set one of "httpGet" or "tcpSocket"',
    ]);
    expect(errorsOf(project('  liveness:', '    httpGet: { path: /healthz }', '    tcpSocket: {}'))).toEqual([
      'app.yaml:10:5: spec.liveness: "httpGet" and "tcpSocket" cannot both be set; choose one',
    ]);
    expect(errorsOf(project('  liveness: { httpGet: {} }'))).toEqual([
      'app.yaml:8:24: spec.liveness.httpGet: missing required field "path"',
    ]);
  });

  it('takes liveness timings as whole seconds within bounds, as Kubernetes does', () => {
    expect(errorsOf(project('  liveness: { tcpSocket: {}, periodSeconds: 0 }'))).toEqual([
      'app.yaml:8:45: spec.liveness.periodSeconds: expected an integer between 1 and 3600, got 0',
    ]);
    expect(errorsOf(project('  liveness: { tcpSocket: {}, timeoutSeconds: 1.5 }'))).toEqual([
      'app.yaml:8:46: spec.liveness.timeoutSeconds: expected integer, got number 1.5',
    ]);
    expect(errorsOf(project('  liveness: { tcpSocket: {}, failureThreshold: "3" }'))).toEqual([
      'app.yaml:8:48: spec.liveness.failureThreshold: expected integer, got string "3"',
    ]);
    expect(errorsOf(project('  liveness: { tcpSocket: {}, initialDelaySeconds: -1 }'))).toEqual([
      'app.yaml:8:51: spec.liveness.initialDelaySeconds: expected an integer between 0 and 3600, got -1',
    ]);
  });

  it('takes args as a list of strings, like command', () => {
    expect(errorsOf(project('  args: --verbose'))).toEqual([
      'app.yaml:8:9: spec.args: expected a list, got string "--verbose"',
    ]);
    expect(errorsOf(project('  args: []'))).toEqual(['app.yaml:8:9: spec.args: expected at least 1 entry, got none']);
  });
});

describe('parseManifests: patterns', () => {
  it('explains a bad name', () => {
    expect(errorsOf(project().replace('name: hello', 'name: Hello_World'))).toEqual([
      'app.yaml:4:9: metadata.name: expected a name made of lower-case letters, digits and \'-\', starting and ending with a letter or digit (such as my-app), got "Hello_World"',
    ]);
    expect(errorsOf(project().replace('name: hello', `name: ${'a'.repeat(64)}`))).toEqual([
      'app.yaml:4:9: metadata.name: expected at most 63 characters, got 64',
    ]);
  });

  it('explains a bad hostname, and refuses duplicates and an empty list', () => {
    expect(
      errorsOf(project().replace('[hello.localhost]', '[Hello.localhost, a.localhost, "http://x", a.localhost]')),
    ).toEqual([
      'app.yaml:7:15: spec.hostnames[0]: expected a lower-case DNS name such as hello.localhost or app.example.com, got "Hello.localhost"',
      'app.yaml:7:45: spec.hostnames[2]: expected a lower-case DNS name such as hello.localhost or app.example.com, got "http://x"',
      'app.yaml:7:57: spec.hostnames[3]: duplicate entry "a.localhost" (also at spec.hostnames[1])',
    ]);
    expect(errorsOf(project().replace('[hello.localhost]', '[]'))).toEqual([
      'app.yaml:7:14: spec.hostnames: expected at least 1 entry, got none',
    ]);
  });

  it('explains bad keys of env, build args and labels, pointing at the key', () => {
    expect(
      errorsOf(
        project('  env:', '    my-var: x', '    1ST: y').replace(
          '  name: hello\n',
          '  name: hello\n  labels: { "-bad": x }\n',
        ),
      ),
    ).toEqual([
      "app.yaml:5:13: metadata.labels[\"-bad\"]: expected a key such as tier or example.com/tier: an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' or '.', got \"-bad\"",
      'app.yaml:10:5: spec.env.my-var: expected a variable name made of letters, digits and _, not starting with a digit (such as LOG_LEVEL), got "my-var"',
      'app.yaml:11:5: spec.env["1ST"]: expected a variable name made of letters, digits and _, not starting with a digit (such as LOG_LEVEL), got "1ST"',
    ]);
  });

  it('explains a bad image, readiness path and label value', () => {
    expect(
      errorsOf(project('  readiness: { httpGet: { path: healthz } }').replace('image: hello', 'image: My App')),
    ).toEqual([
      'app.yaml:6:10: spec.image: expected the name of an Image or an image reference such as busybox:1.36, got "My App"',
      'app.yaml:8:33: spec.readiness.httpGet.path: expected a path starting with / such as /healthz, got "healthz"',
    ]);
    expect(errorsOf(project().replace('image: hello', 'image: ""'))).toEqual([
      'app.yaml:6:10: spec.image: expected a non-empty string',
    ]);
  });

  it('checks port ranges', () => {
    expect(errorsOf(project('  port: 70000'))).toEqual([
      'app.yaml:8:9: spec.port: expected an integer between 1 and 65535, got 70000',
    ]);
    expect(errorsOf(project('  scaling: { maxInstances: 0, targetConcurrency: 0, minInstances: -1 }'))).toEqual([
      'app.yaml:8:28: spec.scaling.maxInstances: expected an integer of at least 1, got 0',
      'app.yaml:8:50: spec.scaling.targetConcurrency: expected an integer of at least 1, got 0',
      'app.yaml:8:67: spec.scaling.minInstances: expected an integer of at least 0, got -1',
    ]);
  });
});

describe('parseManifests: quantities and ranges', () => {
  it('explains a bad duration, CPU and memory', () => {
    expect(errorsOf(project('  scaling: { idleTimeout: 10x }', '  resources: { cpu: lots, memory: 256m }'))).toEqual([
      'app.yaml:8:27: spec.scaling.idleTimeout: expected a duration such as 90s, 5m or 1h30m, got "10x"',
      'app.yaml:9:21: spec.resources.cpu: expected a CPU quantity such as 500m, 1.5 or 2, got "lots"',
      'app.yaml:9:35: spec.resources.memory: expected a memory size such as 256Mi, 1Gi or 512M, got "256m"',
    ]);
  });

  it('says a number needs a unit', () => {
    expect(errorsOf(project('  scaling: { idleTimeout: 60 }'))).toEqual([
      'app.yaml:8:27: spec.scaling.idleTimeout: expected string; quote the value ("60")',
    ]);
  });

  it('keeps idleTimeout between 1s and 24h', () => {
    expect(errorsOf(project('  scaling: { idleTimeout: 500ms }'))).toEqual([
      'app.yaml:8:27: spec.scaling.idleTimeout: expected a duration between 1s and 24h, got "500ms"',
    ]);
    expect(errorsOf(project('  scaling: { idleTimeout: 25h }'))).toEqual([
      'app.yaml:8:27: spec.scaling.idleTimeout: expected a duration between 1s and 24h, got "25h"',
    ]);
    expect(parseManifests(project('  scaling: { idleTimeout: 24h }'), FILE)).toHaveLength(1);
  });

  it('keeps pauseAfter above 0 and below idleTimeout', () => {
    expect(errorsOf(project('  scaling: { pauseAfter: 0s }'))).toEqual([
      'app.yaml:8:26: spec.scaling.pauseAfter: expected a duration greater than 0, got "0s"',
    ]);
    expect(errorsOf(project('  scaling:', '    idleTimeout: 1m', '    pauseAfter: 60s'))).toEqual([
      'app.yaml:10:17: spec.scaling.pauseAfter: expected a duration shorter than idleTimeout (1m), got "60s"',
    ]);
  });

  it('keeps startupTimeout between 1s and 10m', () => {
    expect(errorsOf(project('  readiness: { startupTimeout: 11m }'))).toEqual([
      'app.yaml:8:32: spec.readiness.startupTimeout: expected a duration between 1s and 10m, got "11m"',
    ]);
    expect(errorsOf(project('  readiness: { startupTimeout: 0s }'))).toEqual([
      'app.yaml:8:32: spec.readiness.startupTimeout: expected a duration between 1s and 10m, got "0s"',
    ]);
  });

  it("keeps timeout between 1s and 1h (Cloud Run's bounds)", () => {
    expect(errorsOf(project('  timeout: 2h'))).toEqual([
      'app.yaml:8:12: spec.timeout: expected a duration between 1s and 1h, got "2h"',
    ]);
    expect(errorsOf(project('  timeout: 500ms'))).toEqual([
      'app.yaml:8:12: spec.timeout: expected a duration between 1s and 1h, got "500ms"',
    ]);
    expect(errorsOf(project('  timeout: 120'))).toEqual([
      'app.yaml:8:12: spec.timeout: expected string; quote the value ("120")',
    ]);
    expect(parseManifests(project('  timeout: 3600s'), FILE)).toHaveLength(1);
  });

  it('keeps maxConcurrency between 1 and 1000, and maxQueued only beside it', () => {
    expect(errorsOf(project('  scaling: { maxConcurrency: 1001 }'))).toEqual([
      'app.yaml:8:30: spec.scaling.maxConcurrency: expected an integer between 1 and 1000, got 1001',
    ]);
    expect(errorsOf(project('  scaling: { maxQueued: 5 }'))).toEqual([
      'app.yaml:8:25: spec.scaling.maxQueued: maxQueued bounds the queue of maxConcurrency: set scaling.maxConcurrency too',
    ]);
    expect(parseManifests(project('  scaling: { maxConcurrency: 1, maxQueued: 5 }'), FILE)).toHaveLength(1);
  });

  it('keeps CPU between 10m and 64 and memory between 6Mi and 1Ti', () => {
    expect(errorsOf(project('  resources: { cpu: 5m, memory: 4Mi }'))).toEqual([
      'app.yaml:8:21: spec.resources.cpu: expected a CPU quantity between 10m and 64, got "5m"',
      'app.yaml:8:33: spec.resources.memory: expected a memory size between 6Mi and 1Ti, got "4Mi"',
    ]);
    expect(errorsOf(project('  resources: { cpu: "65", memory: 2Ti }'))).toEqual([
      'app.yaml:8:21: spec.resources.cpu: expected a CPU quantity between 10m and 64, got "65"',
      'app.yaml:8:35: spec.resources.memory: expected a memory size between 6Mi and 1Ti, got "2Ti"',
    ]);
  });

  it('keeps minInstances at most maxInstances', () => {
    expect(errorsOf(project('  scaling:', '    minInstances: 3', '    maxInstances: 2'))).toEqual([
      'app.yaml:9:19: spec.scaling.minInstances: expected at most maxInstances (2), got 3',
    ]);
    expect(parseManifests(project('  scaling: { minInstances: 3 }'), FILE)).toHaveLength(1);
  });

  it('checks a Lease ttl, idleTimeout and resources', () => {
    expect(errorsOf(lease('  idleTimeout: 0s', '  resources: { memory: 1Mi }').replace('ttl: 30m', 'ttl: 0s'))).toEqual(
      [
        'app.yaml:7:8: spec.ttl: expected a duration greater than 0, got "0s"',
        'app.yaml:8:16: spec.idleTimeout: expected a duration between 1s and 24h, got "0s"',
        'app.yaml:9:24: spec.resources.memory: expected a memory size between 6Mi and 1Ti, got "1Mi"',
      ],
    );
    expect(errorsOf(lease().replace('  ttl: 30m\n', ''))).toEqual(['app.yaml:5:1: spec: missing required field "ttl"']);
    expect(errorsOf(lease().replace('ttl: 30m', 'ttl: forever'))).toEqual([
      'app.yaml:7:8: spec.ttl: expected a duration such as 90s, 5m or 1h30m, got "forever"',
    ]);
  });
});

describe('ManifestError', () => {
  it('lists every issue of every document in order of position, once each', () => {
    const source = `${project('  port: 0', '  tls: 1')}---\n${lease('  env: { A: 1 }').replace('trial', 'Trial')}`;
    const error = manifestError(source);
    expect(error.message).toBe(
      [
        'app.yaml:8:9: spec.port: expected an integer between 1 and 65535, got 0',
        'app.yaml:9:8: spec.tls: expected boolean (true or false), got integer 1',
        'app.yaml:14:9: metadata.name: expected a name made of lower-case letters, digits and \'-\', starting and ending with a letter or digit (such as my-app), got "Trial"',
        'app.yaml:18:13: spec.env.A: expected string; quote the value ("1")',
      ].join('\n'),
    );
    expect(error.issues[0]).toEqual<ManifestIssue>({
      file: FILE,
      line: 8,
      column: 9,
      path: 'spec.port',
      message: 'expected an integer between 1 and 65535, got 0',
    });
    expect(error.name).toBe('ManifestError');
  });

  it('collapses a value that breaks several rules into the clearest message', () => {
    expect(errorsOf(project().replace('[hello.localhost]', '[""]'))).toEqual([
      'app.yaml:7:15: spec.hostnames[0]: expected a lower-case DNS name such as hello.localhost or app.example.com, got ""',
    ]);
  });
});
