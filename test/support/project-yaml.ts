// One Project document as YAML text, for the tests, the crash harness and the benchmarks
// that write manifests by hand.

/** A Project of `image`, answering on `host`, with `spec` lines (indented two spaces) after. */
export function projectYaml(name: string, image: string, host: string, spec: readonly string[] = []): string {
  return [
    'apiVersion: luma.dev/v1alpha1',
    'kind: Project',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  image: ${image}`,
    `  hostnames: [${host}]`,
    ...spec,
  ].join('\n');
}
