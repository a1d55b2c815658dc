import dockerignore from '@balena/dockerignore';
import { RE2JS } from 're2js';

// .dockerignore as `docker build` reads it. The rules are @balena/dockerignore's, a port of
// Docker's own Go code (`**`, `*` within one name, `?`, character classes, `!` exceptions,
// `./` and `/` prefixes, the last matching rule decides, a rule on a directory covers what
// is under it). Names match case-sensitively, as on Linux: the port's default ignores case
// (it follows node-ignore, written for .gitignore), so `!keep.log` would bring back
// `KEEP.LOG` and `Secret.txt` would leave out `secret.txt`.
//
// One thing is not taken from the port: it compiles each rule into a JavaScript RegExp,
// which backtracks, so a pattern such as `*a*a*a*a*a*a*a*a*x` takes a minute on a
// 60-character name and `**/**/**/**/**/**/**/**/**/**/x` longer still (Go's regexps, which
// Docker uses, cannot do that). Each rule's expression is therefore run by re2js, a port of
// RE2 that matches in linear time; the expression itself is the port's.

// The package is CommonJS with `module.exports = factory` and `factory.default = factory`;
// its types only know `.default`, which Node's import of it also has.

/** The compiled form of a rule inside @balena/dockerignore (1.0.x), which we replace. */
interface PortRule {
  pattern: string;
  negative: boolean;
  regexp?: { test(input: string): boolean; source?: string; flags?: string };
}

interface PortInternals {
  _rules: PortRule[];
  _compile(rule: PortRule): PortRule;
}

export class DockerIgnoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DockerIgnoreError';
  }
}

export interface DockerIgnore {
  /** True when `relative` (slash-separated, from the context root) is left out. */
  ignores(relative: string): boolean;
  /**
   * Whether a walk must still enter the ignored directory `dir`: an exception names a path
   * under it. Docker's own test (a prefix of an exception's pattern), so that what is
   * walked, and so what is sent, is what `docker build` sends.
   */
  mayKeepUnder(dir: string): boolean;
}

export function parseDockerIgnore(text: string): DockerIgnore {
  const matcher = dockerignore.default({ ignorecase: false });
  const lines = text.split(/\r?\n/);
  // Go's filepath.Match refuses a pattern ending in an escape that escapes nothing; the port would take it.
  const loneEscape = lines.find((line) => !line.startsWith('#') && /(^|[^\\])(\\\\)*\\$/.test(line.trim()));
  if (loneEscape !== undefined)
    throw new DockerIgnoreError(
      `.dockerignore: the pattern "${loneEscape.trim()}" is not valid (it ends with a lone \\)`,
    );
  matcher.add(lines);
  const rules = (matcher as unknown as PortInternals)._rules;
  for (const rule of rules) rule.regexp = linearTime(matcher as unknown as PortInternals, rule);
  const exceptions = rules.filter((rule) => rule.negative).map((rule) => `${rule.pattern}/`);
  return {
    ignores: (relative) => matcher.ignores(relative),
    mayKeepUnder: (dir) => exceptions.some((exception) => exception.startsWith(`${dir}/`)),
  };
}

function linearTime(internals: PortInternals, rule: PortRule): { test(input: string): boolean } {
  let compiled: PortRule['regexp'];
  try {
    compiled = internals._compile(rule).regexp;
  } catch (error) {
    throw new DockerIgnoreError(
      `.dockerignore: the pattern "${rule.pattern}" is not valid (${(error as Error).message})`,
    );
  }
  if (compiled?.source === undefined)
    throw new DockerIgnoreError(`.dockerignore: cannot compile the pattern "${rule.pattern}"`);
  try {
    // RE2 reads the JavaScript source as it is: the port writes only anchors, `.`, `*`, classes and escapes.
    return RE2JS.compile(compiled.source, compiled.flags?.includes('i') ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (error) {
    throw new DockerIgnoreError(
      `.dockerignore: the pattern "${rule.pattern}" is not valid (${(error as Error).message})`,
    );
  }
}
