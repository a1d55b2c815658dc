import { objectRef } from './format.js';

// `apply --dry-run=client`: every document parsed and validated against the JSON Schemas
// here, with no API. It cannot tell created from configured (that needs the stored
// object), so each valid object is reported as `checked`. An invalid manifest throws the
// ManifestError that names file, line, column and field, as a server refusal would.

export async function manifestSummary(
  files: Array<{ path: string; content: string }>,
  suffix: string,
): Promise<string> {
  // Loaded when used: compiling the JSON Schemas costs start-up time other commands need not pay.
  const { parseManifests } = await import('../model/parse.js');
  const lines: string[] = [];
  for (const file of files)
    for (const doc of parseManifests(file.content, file.path)) lines.push(`${objectRef(doc.object)} checked ${suffix}`);
  return lines.join('\n') + '\n';
}
