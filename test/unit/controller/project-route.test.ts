import { describe, expect, it } from 'vitest';
import { containerSpecHash, processOf } from '../../../src/controller/project-route.js';
import { resolveProjectSettings } from '../../../src/model/project-settings.js';
import type { ProjectSpec } from '../../../src/model/types.js';

// The spec hash is written on every container as a label: a change in it replaces the
// container. These values were computed by the release before `args` and `liveness`
// existed; an upgrade must find the same hash for the same manifest, or it would replace
// every running container whose process did not change.

const BASE: ProjectSpec = { image: 'hello:latest', hostnames: ['web.localhost'] };
const COMMAND: ProjectSpec = { ...BASE, command: ['/bin/busybox', 'httpd', '-f', '-p', '8080'] };
const FULL: ProjectSpec = {
  ...BASE,
  port: 9000,
  env: { B: '2', A: '1' },
  command: ['serve'],
  resources: { cpu: '500m', memory: '256Mi' },
  securityContext: { capabilities: { add: ['NET_RAW'] } },
};

function hashOf(spec: ProjectSpec): string {
  return containerSpecHash(resolveProjectSettings(spec));
}

describe('containerSpecHash', () => {
  it.each([
    ['no command', BASE, 'b68ce190ecc8'],
    ['a command', COMMAND, 'c51156986bae'],
    ['every field that shapes a container', FULL, 'aa9658088657'],
  ])('is unchanged since before args existed for a manifest with %s', (_what, spec, hash) => {
    expect(hashOf(spec)).toBe(hash);
  });

  it('does not change with a liveness check: probing does not change what runs', () => {
    const liveness = { httpGet: { path: '/healthz' }, periodSeconds: 5 };
    expect(hashOf({ ...COMMAND, liveness })).toBe(hashOf(COMMAND));
    expect(hashOf({ ...BASE, liveness: { tcpSocket: {} } })).toBe(hashOf(BASE));
  });

  it('changes when args are given, alone or with a command', () => {
    const argsOnly = hashOf({ ...BASE, args: ['-v'] });
    const both = hashOf({ ...COMMAND, args: ['-v'] });
    expect(argsOnly).not.toBe(hashOf(BASE));
    expect(both).not.toBe(hashOf(COMMAND));
    expect(hashOf({ ...BASE, args: ['-vv'] })).not.toBe(argsOnly);
  });

  it('tells moving a list from command to args apart: the ENTRYPOINT differs', () => {
    expect(hashOf({ ...BASE, args: ['serve'] })).not.toBe(hashOf({ ...BASE, command: ['serve'] }));
  });
});

describe('processOf', () => {
  it('passes command and args on as declared, and nothing when neither is', () => {
    expect(processOf(resolveProjectSettings(BASE))).toEqual({});
    expect(processOf(resolveProjectSettings({ ...BASE, args: ['-v'] }))).toEqual({ args: ['-v'] });
    expect(processOf(resolveProjectSettings({ ...BASE, command: ['a'], args: ['b'] }))).toEqual({
      command: ['a'],
      args: ['b'],
    });
  });
});
