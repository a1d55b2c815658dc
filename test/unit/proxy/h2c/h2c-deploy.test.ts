import { describe, expect, it } from 'vitest';
import { routeFor } from '../../../../src/controller/project-route.js';
import { resolveProjectSettings } from '../../../../src/model/project-settings.js';
import { parseManagementRequest } from '../../../../src/proxy/management-server.js';
import { RouteTable } from '../../../../src/proxy/route-table.js';

// How `h2c` travels: spec.http2 → the project's route → the management message → the
// route table (and back out in get-service).

const spec = { image: 'grpc:1', hostnames: ['grpc.test'] };

describe('the h2c deploy option', () => {
  it('is set on the route of a project with spec.http2, and only then', () => {
    expect(routeFor('grpc', resolveProjectSettings({ ...spec, http2: true }), []).h2c).toBe(true);
    expect(routeFor('web', resolveProjectSettings(spec), [])).not.toHaveProperty('h2c');
  });

  it('crosses the management socket as a boolean, and a value of another type is refused naming it', () => {
    const line = (h2c: unknown): string =>
      JSON.stringify({ id: 1, type: 'deploy', request: { service: 'grpc', hosts: ['grpc.test'], h2c } });
    expect(parseManagementRequest(line(true))).toMatchObject({ type: 'deploy', request: { h2c: true } });
    expect(() => parseManagementRequest(line('yes'))).toThrow(/h2c/);
  });

  it('is kept by the route table and shown by get-service', () => {
    const routes = new RouteTable();
    routes.apply({ service: 'grpc', hosts: ['grpc.test'], targets: ['127.0.0.1:9000'], h2c: true });
    expect(routes.lookupHost('grpc.test')?.h2c).toBe(true);
    expect(routes.get('grpc')?.info().h2c).toBe(true);
    routes.apply({ service: 'grpc', hosts: ['grpc.test'], targets: ['127.0.0.1:9000'] });
    expect(routes.get('grpc')?.info()).not.toHaveProperty('h2c');
  });
});
