import { TEST_IMAGE } from '../../test/support/docker.js';
import { projectYaml } from '../../test/support/project-yaml.js';

// The manifests bench/scale applies in one POST /apply, shared with bench/parse-apply so
// that the in-process figures are of the same text.

export const projectName = (index: number): string => `p${String(index).padStart(4, '0')}`;

/** One Project document of the busybox test image, answering on `host`, with `spec` lines after. */
export function benchProject(name: string, host: string, spec: readonly string[]): string {
  return projectYaml(name, TEST_IMAGE, host, spec);
}

/** `count` Project documents, one multi-document YAML text. */
export function scaleManifests(count: number): string {
  const documents: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const name = projectName(index);
    documents.push(
      benchProject(name, `${name}.scale.localhost`, [
        '  scaling: { minInstances: 0, idleTimeout: 10m }',
        // 50 starts at once on a shared 2-core machine can take longer than the default 30 s.
        '  readiness: { startupTimeout: 180s }',
      ]),
    );
  }
  return documents.join('\n---\n') + '\n';
}
