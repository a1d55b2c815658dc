import { describe, expect, it } from 'vitest';
import { namesRegistry, registryReference } from '../../../../src/runtime/swarm/registry-images.js';
import { LEASE_LABELS, serviceName, serviceSpec } from '../../../../src/runtime/swarm/service-spec.js';
import { viewOf, type ServiceInfo, type TaskInfo } from '../../../../src/runtime/swarm/service-view.js';
import { ownerLabels } from '../../../../src/runtime/labels.js';

// The Swarm driver's pure parts: what a service is made of, and how a service and its
// tasks read as one ManagedContainer.

const owner = { kind: 'Project' as const, name: 'web', uid: 'u-1' };
const nodes = (id: string): string | undefined => (id === 'n1' ? '10.0.0.7' : undefined);

function service(
  replicas: number,
  labels: Record<string, string> = ownerLabels('inst', owner, 'h1', 8080),
): ServiceInfo {
  return {
    ID: 's1',
    CreatedAt: '2026-01-01T00:00:00Z',
    Spec: { Name: 'luma-inst-web-abc123', Labels: labels, Mode: { Replicated: { Replicas: replicas } } },
  };
}

function task(state: string, extra: Partial<TaskInfo> = {}): TaskInfo {
  return {
    ID: `t-${state}`,
    ServiceID: 's1',
    NodeID: 'n1',
    CreatedAt: '2026-01-01T00:00:01Z',
    DesiredState: 'running',
    Status: { State: state, PortStatus: { Ports: [{ TargetPort: 8080, PublishedPort: 30001 }] } },
    ...extra,
  };
}

describe('viewOf', () => {
  it('reads a running task as running on its node address and published port', () => {
    expect(viewOf(service(1), [task('running')], nodes)).toMatchObject({
      id: 's1',
      owner,
      state: 'running',
      hostAddress: '10.0.0.7',
      hostPort: 30001,
      specHash: 'h1',
    });
  });

  it('reads 0 replicas as stopped, without a port, whatever its last task does', () => {
    const view = viewOf(service(0), [task('running', { DesiredState: 'shutdown' })], nodes);
    expect(view?.state).toBe('exited');
    expect(view?.hostPort).toBeUndefined();
    expect(view?.exitCode).toBeUndefined();
  });

  it('reads a failed task as exited with its exit code, and one on its way up as restarting', () => {
    const failed = task('failed', { Status: { State: 'failed', ContainerStatus: { ExitCode: 3 } } });
    expect(viewOf(service(1), [failed], nodes)).toMatchObject({ state: 'exited', exitCode: 3 });
    expect(viewOf(service(1), [task('preparing')], nodes)?.state).toBe('restarting');
  });

  it('takes a claimed pool service as its lease', () => {
    const labels = {
      ...ownerLabels('inst', owner, 'h1', 8080, 'pool'),
      [LEASE_LABELS.name]: 'job',
      [LEASE_LABELS.uid]: 'l-1',
    };
    expect(viewOf(service(1, labels), [task('running')], nodes)).toMatchObject({
      owner: { kind: 'Lease', name: 'job', uid: 'l-1' },
      role: 'lease',
      claimedFromPool: true,
    });
  });

  it('ignores a service without Luma labels', () => {
    expect(viewOf(service(1, {}), [], nodes)).toBeUndefined();
  });
});

describe('serviceSpec', () => {
  it('starts at 0 replicas, publishes in host mode, keeps the hardening and the limits', () => {
    const spec = serviceSpec({
      instance: 'inst',
      image: '10.0.0.1:5000/app:1',
      stopGraceSeconds: 2,
      spec: {
        owner,
        specHash: 'h1',
        image: 'app:1',
        port: 8080,
        env: { A: 'b' },
        cpuMillis: 500,
        memoryBytes: 64 << 20,
      },
    });
    expect(spec.Mode.Replicated.Replicas).toBe(0);
    expect(spec.EndpointSpec).toEqual({
      Mode: 'dnsrr',
      Ports: [{ Protocol: 'tcp', TargetPort: 8080, PublishMode: 'host' }],
    });
    expect(spec.TaskTemplate.ContainerSpec).toMatchObject({
      Image: '10.0.0.1:5000/app:1',
      Env: ['A=b'],
      Init: true,
      StopGracePeriod: 2_000_000_000,
      CapabilityDrop: ['ALL'],
    });
    expect(spec.TaskTemplate.Resources.Limits).toEqual({ NanoCPUs: 500_000_000, MemoryBytes: 64 << 20, Pids: 1024 });
    expect(spec.TaskTemplate.RestartPolicy).toEqual({ Condition: 'none' });
    expect(spec.Labels['luma.dev/memory']).toBe(String(64 << 20));
  });

  it('maps command and args onto Command and Args as Kubernetes does', () => {
    const process = (extra: { command?: string[]; args?: string[] }): Record<string, unknown> => {
      const made = serviceSpec({
        instance: 'inst',
        image: 'app:1',
        stopGraceSeconds: 2,
        spec: { owner, specHash: 'h1', image: 'app:1', port: 8080, env: {}, ...extra },
      }).TaskTemplate.ContainerSpec;
      return { Command: made.Command, Args: made.Args };
    };
    expect(process({})).toEqual({ Command: undefined, Args: undefined });
    expect(process({ args: ['migrate'] })).toEqual({ Command: undefined, Args: ['migrate'] });
    expect(process({ command: ['/app'] })).toEqual({ Command: ['/app'], Args: [] });
    expect(process({ command: ['/app'], args: ['serve'] })).toEqual({ Command: ['/app'], Args: ['serve'] });
  });

  it('names services as DNS labels of at most 63 characters, a lease after its uid', () => {
    const long = serviceName('t-some-long-instance-name-1234567890', { ...owner, name: 'a'.repeat(63) }, 'instance');
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(long.length).toBeLessThanOrEqual(63);
    const lease = { kind: 'Lease' as const, name: 'job', uid: 'l-1' };
    expect(serviceName('inst', lease, 'lease')).toBe(serviceName('inst', lease, 'lease'));
    expect(serviceName('inst', lease, 'lease')).not.toBe(serviceName('inst', { ...lease, uid: 'l-2' }, 'lease'));
  });
});

describe('registry references', () => {
  it('prefixes local images with the registry and leaves ones that name a registry alone', () => {
    expect(registryReference('10.0.0.1:5000', 'luma-test/app:latest')).toBe('10.0.0.1:5000/luma-test/app:latest');
    expect(registryReference('10.0.0.1:5000', 'app')).toBe('10.0.0.1:5000/app:latest');
    expect(namesRegistry('10.0.0.1:5000/app:1')).toBe(true);
    expect(namesRegistry('registry.example.com/app')).toBe(true);
    expect(namesRegistry('luma/app:1')).toBe(false);
    expect(namesRegistry('busybox')).toBe(false);
  });
});
