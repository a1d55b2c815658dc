import type { FieldPath } from '../model/field-path.js';
import type { ParsedDocument, Position } from '../model/parse.js';
import type { LumaObject, SourceRef } from '../model/types.js';

// A parsed document as plain data, so that it can cross from the scan's worker thread
// (scan-worker.ts) to the main thread: the object, where it came from, and where each of
// its fields is written. A ParsedDocument answers positions from its YAML syntax tree;
// sending the tree would cost the main thread what the worker is there to save, so the
// worker asks the tree once for every field of the object and sends the answers.

/** `[path key, line, column]`, for the document itself and every field below it. */
export type PositionEntry = [key: string, line: number, column: number];

export interface PortableDocument {
  object: LumaObject;
  source: SourceRef;
  positions: PositionEntry[];
}

/** Segments joined by a character no YAML key a person writes contains. */
function pathKey(path: FieldPath): string {
  return path.map((segment) => (typeof segment === 'number' ? `#${segment}` : `.${segment}`)).join('\u0000');
}

export function toPortable(doc: ParsedDocument): PortableDocument {
  const positions: PositionEntry[] = [];
  const visit = (value: unknown, path: FieldPath): void => {
    const { line, column } = doc.position(path);
    positions.push([pathKey(path), line, column]);
    if (Array.isArray(value)) value.forEach((item, index) => visit(item, [...path, index]));
    else if (value !== null && typeof value === 'object')
      for (const [key, item] of Object.entries(value)) visit(item, [...path, key]);
  };
  visit(doc.object, []);
  return { object: doc.object, source: doc.source, positions };
}

/**
 * The document again, answering positions from the table: a path the object does not
 * have (a field left out) is answered like the YAML tree answers it, by the nearest
 * enclosing field that exists.
 */
export function fromPortable(portable: PortableDocument): ParsedDocument {
  const { object, source, positions } = portable;
  return {
    object,
    source,
    position: (path: FieldPath): Position => {
      for (let length = path.length; length >= 0; length -= 1) {
        const key = pathKey(path.slice(0, length));
        const entry = positions.find((candidate) => candidate[0] === key);
        if (entry) return { line: entry[1], column: entry[2] };
      }
      return { line: 1, column: 1 };
    },
  };
}
