/**
 * What the CLI prints for people shows every character: a branch name, commit message, author or task message
 * is text from outside, and a control character in it would act on the terminal instead (an escape sequence
 * that recolours a status, rewrites the title, moves the cursor over earlier lines; a carriage return that
 * hides what came before; a bidi control such as U+202E that shows text in another order). Each becomes a
 * visible escape (`\x1b`, `\u202e`). `--json` prints the API's JSON as it is: JSON escapes C0 controls itself,
 * and a script reads it as data.
 */

// Bidi controls (marks, embeddings, overrides, isolates) and the line and paragraph separators.
const BIDI = "\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029";
// C0 and C1 controls and DEL, and the above.
const UNSAFE = new RegExp(`[\\p{Cc}${BIDI}]`, "gu");
// A log keeps its lines, tabs and colours (SGR: ESC [ digits m); every other control is shown escaped.
const LOG_UNSAFE = new RegExp(`\\u001b\\[[0-9;]*m|[^\\P{Cc}\\n\\t]|[${BIDI}]`, "gu");

function escaped(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** `text` with every control character shown as an escape. */
export function visible(text: string): string {
  return text.replace(UNSAFE, escaped);
}

/** A value from the API with every string in it made visible, for human output. */
export function visibleDeep<T>(value: T): T {
  if (typeof value === "string") return visible(value) as T;
  if (Array.isArray(value)) return value.map(visibleDeep) as T;
  if (value !== null && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [visible(k), visibleDeep(v)])) as T;
  return value;
}

/** A task's log: lines, tabs and colours kept, any other control character shown as an escape. */
export function visibleLog(text: string): string {
  return text.replace(LOG_UNSAFE, (match) => (match.length > 1 ? match : escaped(match)));
}
