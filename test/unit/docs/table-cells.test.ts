import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Lexer, type Token, type Tokens } from 'marked';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/luma.js';

// The docs are read in an editor as often as rendered: a table cell longer than a sentence
// or two becomes a line no one can read, so details go in prose below the table
// (GUIDE.md, house habits). Tables are found by marked's lexer, as a renderer finds them.

/** About two sentences. */
const MAX_CELL_CHARACTERS = 200;

function markdownFiles(): string[] {
  const docs = path.join(REPO_ROOT, 'docs');
  const inDocs = readdirSync(docs, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => path.join(docs, name));
  return [path.join(REPO_ROOT, 'README.md'), ...inDocs];
}

function tablesIn(tokens: Token[]): Tokens.Table[] {
  return tokens.flatMap((token): Tokens.Table[] => {
    if (token.type === 'table') return [token as Tokens.Table];
    const children = (token as { tokens?: Token[]; items?: Token[] }).tokens ?? (token as { items?: Token[] }).items;
    return children ? tablesIn(children) : [];
  });
}

/** `file: "the cell's start…" (N characters)` for each cell over the limit. */
function longCells(file: string, text: string, limit = MAX_CELL_CHARACTERS): string[] {
  const cells = tablesIn(Lexer.lex(text)).flatMap((table) => [table.header, ...table.rows].flat());
  return cells
    .filter((cell) => cell.text.length > limit)
    .map((cell) => `${file}: "${cell.text.slice(0, 60)}…" (${cell.text.length} characters)`);
}

describe('tables in the docs', () => {
  it(`have no cell over ${MAX_CELL_CHARACTERS} characters`, () => {
    const files = markdownFiles();
    expect(files.length).toBeGreaterThan(10);
    const found = files.flatMap((file) => longCells(path.relative(REPO_ROOT, file), readFileSync(file, 'utf8')));
    expect(found).toEqual([]);
  });

  it('finds a long cell, in a table inside a list too, and leaves prose and code alone', () => {
    const long = 'x'.repeat(MAX_CELL_CHARACTERS + 1);
    const text = [
      `${long}\n`,
      '```\n| a | b |\n|---|---|\n| ' + long + ' | y |\n```\n',
      '| a | b |\n|---|---|\n| short | `a | b` |\n',
      `- item\n\n  | a | b |\n  |---|---|\n  | ${long} | y |\n`,
    ].join('\n');
    expect(longCells('x.md', text)).toEqual([`x.md: "${'x'.repeat(60)}…" (${long.length} characters)`]);
  });
});
