import { LIMITS } from "./limits.js";

/**
 * Globs for branches, tags and changed paths, matched without backtracking.
 *
 * A pattern becomes a small automaton (one state per character or wildcard) and a name is matched by moving the
 * set of live states one character at a time, so the work is at most (name length × states): never exponential,
 * whatever the pattern. Regular-expression globs (picomatch) backtracked: a branch pattern with many `*` against a
 * 44-character branch took 1.7 s. With the limits in `LIMITS` the work of one list is bounded before any delivery
 * arrives; `matchGlobs` counts it, so tests can hold it to that bound.
 *
 * Syntax: `*` (any characters but `/`), `**` as a whole segment (any number of segments), `?` (one character
 * but `/`), `[abc]`, `[a-z]`, `[!a]` or `[^a]`, `{a,b}` (alternatives, nested allowed), `\` (the next
 * character as written), a leading `!` (not matching). Dots are ordinary characters. Extglobs (`@(…)`, `+(…)`)
 * and ranges (`{1..3}`) are refused.
 */

type Node =
  | { kind: "char"; char: string }
  | { kind: "one" }
  | { kind: "class"; negated: boolean; items: Array<[string, string]> }
  /** `*`: any characters but `/`. */
  | { kind: "star" }
  /** `**` alone: anything. */
  | { kind: "all" }
  /** Anything ending with `/`: `**​/` is `skip` over this, so that it also matches nothing. */
  | { kind: "dirs" }
  /** Consumes nothing; the next `over` nodes may be passed by. `/**` at the end is `skip` over `/` and `all`. */
  | { kind: "skip"; over: number };

export interface CompiledGlob {
  pattern: string;
  negated: boolean;
  /** One automaton per brace alternative; each matches when its last node is passed. */
  alternatives: Node[][];
  /** States over all alternatives (nodes and each alternative's end): the work per character of a name. */
  states: number;
}

export type GlobCompiled = { ok: true; glob: CompiledGlob } | { ok: false; problem: string };

/** Compiles a pattern, or says why it is refused (syntax, or over a limit of `LIMITS`). */
export function compileGlob(pattern: string): GlobCompiled {
  const refuse = (why: string): GlobCompiled => ({ ok: false, problem: `invalid glob "${pattern}": ${why}` });
  if (pattern.length > LIMITS.globLength) return refuse(`longer than ${LIMITS.globLength} characters`);
  const negated = pattern.startsWith("!") && pattern.length > 1;
  const body = negated ? pattern.slice(1) : pattern;
  const wildcards = countWildcards(body);
  if (typeof wildcards === "string") return refuse(wildcards);
  if (wildcards > LIMITS.wildcardsPerGlob)
    return refuse(`${wildcards} wildcards; a pattern has at most ${LIMITS.wildcardsPerGlob}`);
  const expanded = expandBraces(body);
  if (typeof expanded === "string") return refuse(expanded);
  const alternatives: Node[][] = [];
  for (const alternative of expanded) {
    const nodes = toNodes(alternative);
    if (typeof nodes === "string") return refuse(nodes);
    alternatives.push(nodes);
  }
  const states = alternatives.reduce((sum, nodes) => sum + nodes.length + 1, 0);
  return { ok: true, glob: { pattern, negated, alternatives, states } };
}

/** `*` runs, `?` and classes outside escapes; a string when the pattern uses what is not supported. */
function countWildcards(body: string): number | string {
  let count = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === "\\") i++;
    else if (c === "(" || c === ")")
      return "parentheses (extglobs such as @(a|b)) are not supported: use {a,b}, or \\( for the character";
    else if (c === "?" || c === "[") count++;
    else if (c === "*") {
      count++;
      while (body[i + 1] === "*") i++;
    }
  }
  return count;
}

/** Every alternative of `{a,b}` groups, nested allowed; at most `LIMITS.globAlternatives`. */
function expandBraces(text: string): string[] | string {
  const open = findUnescaped(text, "{", 0);
  if (open < 0) return findUnescaped(text, "}", 0) < 0 ? [text] : 'unbalanced "{}"';
  let depth = 0;
  const commas: number[] = [];
  let close = -1;
  for (let i = open; i < text.length && close < 0; i++) {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) close = i;
    else if (c === "," && depth === 1) commas.push(i);
  }
  if (close < 0) return 'unbalanced "{}"';
  const inner = text.slice(open + 1, close);
  if (commas.length === 0 && /^[^\\]*\.\./.test(inner))
    return "ranges such as {1..3} are not supported: list the values, {1,2,3}";
  const bounds = [open, ...commas, close];
  const prefix = text.slice(0, open);
  const rest = expandBraces(text.slice(close + 1));
  if (typeof rest === "string") return rest;
  const out: string[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const choice = expandBraces(text.slice((bounds[k] as number) + 1, bounds[k + 1]));
    if (typeof choice === "string") return choice;
    for (const middle of choice)
      for (const end of rest) {
        out.push(prefix + middle + end);
        if (out.length > LIMITS.globAlternatives)
          return `more than ${LIMITS.globAlternatives} alternatives once its {…} are expanded`;
      }
  }
  return out;
}

function findUnescaped(text: string, char: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === char) return i;
  }
  return -1;
}

/** One alternative (no braces left) as automaton nodes. */
function toNodes(text: string): Node[] | string {
  const segments = splitSegments(text);
  const nodes: Node[] = [];
  for (const [k, segment] of segments.entries()) {
    const last = k === segments.length - 1;
    if (segment === "**") {
      // `src/**` matches `src` too, and `a/**​/b` matches `a/b`, as in picomatch.
      if (segments.length === 1) nodes.push({ kind: "all" });
      else if (last) nodes.push({ kind: "skip", over: 2 }, { kind: "char", char: "/" }, { kind: "all" });
      else nodes.push({ kind: "skip", over: 1 }, { kind: "dirs" });
      continue;
    }
    const parsed = segmentNodes(segment);
    if (typeof parsed === "string") return parsed;
    nodes.push(...parsed);
    // The separator, unless the next segment is a `**` that brings its own.
    const next = segments[k + 1];
    if (!last && !(next === "**" && k + 1 === segments.length - 1)) nodes.push({ kind: "char", char: "/" });
  }
  return nodes;
}

function splitSegments(text: string): string[] {
  const segments: string[] = [];
  let start = 0;
  let inClass = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    else if (c === "/" && !inClass) {
      segments.push(text.slice(start, i));
      start = i + 1;
    }
  }
  segments.push(text.slice(start));
  return segments;
}

function segmentNodes(segment: string): Node[] | string {
  const nodes: Node[] = [];
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c === "\\") {
      const next = segment[++i];
      if (next === undefined) return "ends with a lone \\";
      nodes.push({ kind: "char", char: next });
    } else if (c === "*") {
      while (segment[i + 1] === "*") i++;
      nodes.push({ kind: "star" });
    } else if (c === "?") nodes.push({ kind: "one" });
    else if (c === "[") {
      const parsed = parseClass(segment, i);
      if (typeof parsed === "string") return parsed;
      nodes.push(parsed.node);
      i = parsed.end;
    } else if (c === "]" || c === "}") return `unbalanced "${c === "]" ? "[]" : "{}"}"`;
    else nodes.push({ kind: "char", char: c });
  }
  return nodes;
}

function parseClass(text: string, open: number): { node: Node; end: number } | string {
  let i = open + 1;
  const negated = text[i] === "!" || text[i] === "^";
  if (negated) i++;
  const items: Array<[string, string]> = [];
  for (let first = true; i < text.length; i++, first = false) {
    let c = text[i] as string;
    if (c === "]" && !first) return { node: { kind: "class", negated, items }, end: i };
    if (c === "\\") c = text[++i] ?? "\\";
    if (text[i + 1] === "-" && text[i + 2] !== undefined && text[i + 2] !== "]") {
      let to = text[i + 2] as string;
      i += 2;
      if (to === "\\") to = text[++i] ?? "\\";
      if (to < c) return `range ${c}-${to} is backwards`;
      items.push([c, to]);
    } else items.push([c, c]);
  }
  return 'unbalanced "[]"';
}

const inClass = (node: Extract<Node, { kind: "class" }>, c: string): boolean =>
  c !== "/" && node.negated !== node.items.some(([from, to]) => c >= from && c <= to);

/** Work done by `matchGlobs`: one step per 32 states per character, and per state for each new character seen. */
export interface MatchWork {
  steps: number;
}

/**
 * Whether `value` matches any of the patterns (a `!pattern` matches what the pattern does not). Each alternative
 * moves its live states as bits, 32 to a word, one round per character; `work.steps` counts the words moved.
 */
export function matchGlobs(globs: readonly CompiledGlob[], value: string, work?: MatchWork): boolean {
  return globs.some(
    (glob) => glob.negated !== glob.alternatives.some((nodes) => run(automatonOf(nodes), value, work)),
  );
}

/** An alternative's nodes as bit masks: bit i is "before node i"; bit `nodes.length` is "matched". */
interface Automaton {
  nodes: Node[];
  words: number;
  /** Nodes passed without consuming (a wildcard matching nothing): bit i → bit i + 1. */
  passable: Uint32Array;
  /** `skip` nodes' far edges. */
  skips: Array<[from: number, to: number]>;
  /** Per character: nodes that consume it (bit i → i + 1) and nodes that loop on it (bit i stays). */
  masks: Map<string, { consume: Uint32Array; loop: Uint32Array }>;
}

const automata = new WeakMap<Node[], Automaton>();
const MAX_CACHED_CHARACTERS = 256;

function automatonOf(nodes: Node[]): Automaton {
  let automaton = automata.get(nodes);
  if (automaton) return automaton;
  const words = ((nodes.length + 1) >>> 5) + 1;
  const passable = new Uint32Array(words);
  const skips: Array<[number, number]> = [];
  for (const [i, node] of nodes.entries()) {
    if (node.kind === "star" || node.kind === "all" || node.kind === "skip") setBit(passable, i);
    if (node.kind === "skip") skips.push([i, i + 1 + node.over]);
  }
  automaton = { nodes, words, passable, skips, masks: new Map() };
  automata.set(nodes, automaton);
  return automaton;
}

const setBit = (bits: Uint32Array, i: number) => {
  bits[i >>> 5] = (bits[i >>> 5] as number) | (1 << (i & 31));
};
const hasBit = (bits: Uint32Array, i: number) => ((bits[i >>> 5] as number) & (1 << (i & 31))) !== 0;

function masksFor(a: Automaton, c: string, work: MatchWork | undefined) {
  let masks = a.masks.get(c);
  if (masks) return masks;
  masks = { consume: new Uint32Array(a.words), loop: new Uint32Array(a.words) };
  for (const [i, node] of a.nodes.entries()) {
    if (work) work.steps++;
    const consumes =
      (node.kind === "char" && node.char === c) ||
      (node.kind === "one" && c !== "/") ||
      (node.kind === "class" && inClass(node, c)) ||
      (node.kind === "dirs" && c === "/");
    if (consumes) setBit(masks.consume, i);
    if ((node.kind === "star" && c !== "/") || node.kind === "all" || node.kind === "dirs")
      setBit(masks.loop, i);
  }
  if (a.masks.size >= MAX_CACHED_CHARACTERS) a.masks.clear();
  a.masks.set(c, masks);
  return masks;
}

function run(a: Automaton, value: string, work: MatchWork | undefined): boolean {
  const { words } = a;
  let live = new Uint32Array(words);
  let next = new Uint32Array(words);
  live[0] = 1;
  close(a, live);
  for (let p = 0; p < value.length; p++) {
    const { consume, loop } = masksFor(a, value[p] as string, work);
    let carry = 0;
    let any = 0;
    for (let w = 0; w < words; w++) {
      const moved = (live[w] as number) & (consume[w] as number);
      const word = ((moved << 1) | carry | ((live[w] as number) & (loop[w] as number))) >>> 0;
      carry = moved >>> 31;
      next[w] = word;
      any |= word;
    }
    if (work) work.steps += words;
    if (any === 0) return false;
    close(a, next);
    [live, next] = [next, live];
  }
  return hasBit(live, a.nodes.length);
}

/** Follows the moves that consume nothing, until none adds a state (chains are short: a few rounds at most). */
function close(a: Automaton, live: Uint32Array): void {
  for (let changed = true; changed; ) {
    changed = false;
    let carry = 0;
    for (let w = 0; w < a.words; w++) {
      const passing = (live[w] as number) & (a.passable[w] as number);
      const word = ((live[w] as number) | (passing << 1) | carry) >>> 0;
      carry = passing >>> 31;
      if (word !== live[w]) {
        live[w] = word;
        changed = true;
      }
    }
    for (const [from, to] of a.skips)
      if (hasBit(live, from) && !hasBit(live, to)) {
        setBit(live, to);
        changed = true;
      }
  }
}

/** A list's patterns compiled, or the first problem with its index; checks the list's limits too. */
export function compileGlobList(
  globs: readonly string[],
): { ok: true; globs: CompiledGlob[] } | { ok: false; index?: number; problem: string } {
  if (globs.length > LIMITS.globsPerList)
    return { ok: false, problem: `${globs.length} patterns; a list has at most ${LIMITS.globsPerList}` };
  const compiled: CompiledGlob[] = [];
  for (const [index, pattern] of globs.entries()) {
    const result = compileGlob(pattern);
    if (!result.ok) return { ok: false, index, problem: result.problem };
    compiled.push(result.glob);
  }
  const states = compiled.reduce((sum, g) => sum + g.states, 0);
  if (states > LIMITS.globStatesPerList)
    return {
      ok: false,
      problem: `these patterns make ${states} matching states; a list makes at most ${LIMITS.globStatesPerList} (fewer or shorter patterns, fewer {…} alternatives)`,
    };
  return { ok: true, globs: compiled };
}
