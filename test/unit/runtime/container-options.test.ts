import { describe, expect, it } from 'vitest';
import { KEPT_CAPABILITIES } from '../../../src/model/capabilities.js';
import { containerCreateOptions } from '../../../src/runtime/container-options.js';
import type { ContainerSpec } from '../../../src/runtime/runtime.js';

// What Docker is asked for at create: each hardening default, without an engine.

const spec: ContainerSpec = {
  owner: { kind: 'Project', name: 'web', uid: 'u-1' },
  specHash: 'h1',
  image: 'luma-test/app:latest',
  port: 8080,
  env: { PORT: '8080' },
};

function hostConfig(
  overrides: Partial<ContainerSpec> = {},
): NonNullable<ReturnType<typeof containerCreateOptions>['HostConfig']> {
  const options = containerCreateOptions({
    instance: 'prod',
    name: 'luma-prod-web-abc',
    network: 'luma-prod',
    spec: { ...spec, ...overrides },
  });
  if (!options.HostConfig) throw new Error('no HostConfig');
  return options.HostConfig;
}

describe('containerCreateOptions', () => {
  it('drops every capability and gives back only the kept set when none is asked for', () => {
    const config = hostConfig();
    expect(config.CapDrop).toEqual(['ALL']);
    expect(config.CapAdd).toEqual([...KEPT_CAPABILITIES].sort());
    expect(config.CapAdd).not.toContain('NET_RAW');
    expect(config.CapAdd).not.toContain('MKNOD');
  });

  it('labels an instance with the revision it runs, and one made without a revision with none', () => {
    const labelsOf = (overrides: Partial<ContainerSpec>): Record<string, string> | undefined =>
      containerCreateOptions({ instance: 'prod', name: 'n', network: 'luma-prod', spec: { ...spec, ...overrides } })
        .Labels;
    expect(labelsOf({ revision: 'web-2' })?.['luma.dev/revision']).toBe('web-2');
    expect(labelsOf({})).not.toHaveProperty('luma.dev/revision');
  });

  it('keeps exactly the capabilities the spec lists', () => {
    expect(hostConfig({ capabilities: ['CHOWN', 'NET_RAW'] }).CapAdd).toEqual(['CHOWN', 'NET_RAW']);
  });

  it('joins the installation network and publishes the app port on loopback only', () => {
    const config = hostConfig();
    expect(config.NetworkMode).toBe('luma-prod');
    expect(config.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
  });

  it('sets memory and swap to the same limit, and writes the limit into a label', () => {
    const options = containerCreateOptions({
      instance: 'prod',
      name: 'n',
      network: 'luma-prod',
      spec: { ...spec, memoryBytes: 512 * 2 ** 20 },
    });
    expect(options.HostConfig).toMatchObject({ Memory: 512 * 2 ** 20, MemorySwap: 512 * 2 ** 20 });
    expect(options.Labels).toMatchObject({
      'luma.dev/memory': String(512 * 2 ** 20),
      'luma.dev/instance': 'prod',
      'luma.dev/spec-hash': 'h1',
    });
  });
});

describe('command and args (Kubernetes: command is the ENTRYPOINT, args the CMD)', () => {
  const create = (overrides: Partial<ContainerSpec>): ReturnType<typeof containerCreateOptions> =>
    containerCreateOptions({ instance: 'prod', name: 'n', network: 'luma-prod', spec: { ...spec, ...overrides } });

  it('leaves ENTRYPOINT and CMD to the image when neither is given', () => {
    const options = create({});
    expect(options).not.toHaveProperty('Entrypoint');
    expect(options).not.toHaveProperty('Cmd');
  });

  it('replaces the ENTRYPOINT and drops the image CMD for a command alone', () => {
    expect(create({ command: ['/bin/app', 'serve'] })).toMatchObject({ Entrypoint: ['/bin/app', 'serve'], Cmd: [] });
  });

  it('replaces only the CMD for args alone, so the image ENTRYPOINT stays', () => {
    const options = create({ args: ['--verbose'] });
    expect(options.Cmd).toEqual(['--verbose']);
    expect(options).not.toHaveProperty('Entrypoint');
  });

  it('runs the command with the args when both are given', () => {
    expect(create({ command: ['/bin/app'], args: ['serve', '-v'] })).toMatchObject({
      Entrypoint: ['/bin/app'],
      Cmd: ['serve', '-v'],
    });
  });
});
