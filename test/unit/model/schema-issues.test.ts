import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/model/field-path.js';
import { issuesFromSchemaErrors } from '../../../src/model/schema-issues.js';
import { createAjv } from '../../../src/model/schemas.js';

// The wording of keywords our schemas do not use today, so that a schema edit that adds
// one still gives a readable message. The ones in use are covered in parse.test.ts.

function problems(schema: Record<string, unknown>, data: unknown): string[] {
  const validate = createAjv().compile(schema);
  if (validate(data)) return [];
  return issuesFromSchemaErrors(validate.errors ?? [], data, () => undefined).map(
    (issue) => `${formatPath(issue.path)}: ${issue.message}`,
  );
}

describe('issuesFromSchemaErrors', () => {
  it('words enum, exclusive bounds and list lengths', () => {
    const schema = {
      type: 'object',
      properties: {
        mode: { type: 'string', enum: ['fast', 'safe'] },
        ratio: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
        tags: { type: 'array', maxItems: 2, items: { type: 'string' } },
        count: { type: 'integer', maximum: 10 },
        code: { type: 'string', minLength: 3, maxLength: 4 },
      },
    };
    expect(problems(schema, { mode: 'slow', ratio: 0, tags: ['a', 'b', 'c'], count: 11, code: 'ab' })).toEqual([
      'mode: expected one of "fast", "safe", got string "slow"',
      'ratio: expected a number greater than 0, got 0',
      'tags: expected at most 2 entries, got 3',
      'count: expected an integer of at most 10, got 11',
      'code: expected at least 3 characters, got 2',
    ]);
  });

  it('collapses a oneOf of other shapes into one message', () => {
    const schema = { oneOf: [{ type: 'string' }, { type: 'integer', minimum: 1 }] };
    expect(problems(schema, 0)).toEqual([': does not match any of the allowed forms']);
  });

  it('reports every duplicate entry against its first occurrence', () => {
    expect(problems({ type: 'array', uniqueItems: true }, ['a', 'b', 'a', 'b', 'a'])).toEqual([
      '[2]: duplicate entry "a" (also at [0])',
      '[3]: duplicate entry "b" (also at [1])',
      '[4]: duplicate entry "a" (also at [0])',
    ]);
  });

  it('names all fields that exclude each other', () => {
    const schema = { type: 'object', not: { anyOf: [{ required: ['a'] }] } };
    expect(problems(schema, { a: 1 })).toEqual([': matches a form that is not allowed']);
    expect(problems({ type: 'object', not: { required: ['a', 'b', 'c'] } }, { c: 1, a: 1, b: 1 })).toEqual([
      ': "c", "a" and "b" cannot all be set; choose one',
    ]);
  });
});
