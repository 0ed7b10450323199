import { type Document, isNode, isScalar, LineCounter, parseAllDocuments, parseDocument, visit } from "yaml";
import type * as z from "zod/mini";
import { $ZodAsyncError } from "zod/v4/core";
import { formatPath, type Issue, type Validated } from "./issues.js";
import { JobTemplate, jobTemplateWarnings } from "./job-template.js";
import { byteLength, LIMITS } from "./limits.js";
import { Pipeline } from "./pipeline.js";

/**
 * `uniqueKeys: false`: the yaml library finds a duplicate key by comparing each new key with every earlier key of
 * its mapping, which is quadratic (40,000 keys took 50 s). `uniqueKeysIn` does the same check with one hash-set
 * lookup per key.
 */
export const YAML_OPTIONS = { uniqueKeys: false, prettyErrors: false, strict: true } as const;

/**
 * A YAML or JSON text (JSON is YAML) as a plain value, or its syntax errors with line and column. A text over
 * `LIMITS.definitionTextBytes` or nested deeper than `LIMITS.definitionDepth` is refused before any further work.
 */
export function parseText(text: string): Parsed {
  const tooLarge = textSizeProblem(text);
  if (tooLarge) return { ok: false, issues: [tooLarge] };
  const lineCounter = new LineCounter();
  return fromDocument(parseDocument(text, { ...YAML_OPTIONS, lineCounter }), lineCounter, text);
}

/** Several `---`-separated documents, as `hookflow apply -f` reads them. */
export function parseTexts(text: string): Parsed[] {
  const tooLarge = textSizeProblem(text);
  if (tooLarge) return [{ ok: false, issues: [tooLarge] }];
  const lineCounter = new LineCounter();
  return [...parseAllDocuments(text, { ...YAML_OPTIONS, lineCounter })]
    .map((doc) => fromDocument(doc, lineCounter, text))
    .filter((doc) => !doc.ok || (doc.value !== null && doc.value !== undefined));
}

/** Checked before parsing; `text.length` first, since UTF-8 never takes fewer bytes than UTF-16 code units. */
function textSizeProblem(text: string): Issue | undefined {
  const max = LIMITS.definitionTextBytes;
  if (text.length <= max && byteLength(text) <= max) return undefined;
  return { path: "", message: `the text is larger than ${max} bytes; a definition is at most that` };
}

type Parsed = { ok: true; value: unknown; locate: Locator } | { ok: false; issues: Issue[] };

/**
 * Duplicate keys of every mapping, found with one `Set` per mapping: one lookup per key, so the work grows
 * linearly with the text. Keys are equal as the yaml library compares them (scalars by value; other keys, such
 * as a mapping used as a key, only to themselves). `lookups` is returned so that tests can count the work.
 */
export function uniqueKeysIn(doc: Document): {
  errors: Array<{ message: string; pos: [number, number] }>;
  lookups: number;
} {
  const errors: Array<{ message: string; pos: [number, number] }> = [];
  let lookups = 0;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        lookups++;
        if (seen.has(key)) {
          const range = isNode(pair.key) ? pair.key.range : undefined;
          errors.push({ message: "Map keys must be unique", pos: [range?.[0] ?? 0, range?.[1] ?? 0] });
        } else seen.add(key);
      }
    },
  });
  return { errors, lookups };
}

/** Depth of the deepest collection, walked without recursion so that deep nesting cannot exhaust the stack. */
function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (item === null || typeof item !== "object") continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > limit) return deepest;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}

function depthProblem(value: unknown): Issue | undefined {
  const max = LIMITS.definitionDepth;
  return nestingDepth(value, max) > max
    ? { path: "", message: `nested deeper than ${max} levels; a definition is at most that deep` }
    : undefined;
}

function fromDocument(doc: Document, lineCounter: LineCounter, text: string): Parsed {
  const errors = doc.errors.length > 0 ? doc.errors : uniqueKeysIn(doc).errors;
  if (errors.length > 0) return { ok: false, issues: errors.map((e) => syntaxIssue(e, lineCounter, text)) };
  // Some errors (an alias to no anchor, too many aliases) only show when the document becomes a value.
  try {
    const value = doc.toJS({ maxAliasCount: 100 });
    const tooDeep = depthProblem(value);
    if (tooDeep) return { ok: false, issues: [tooDeep] };
    return { ok: true, value, locate: locator(doc, lineCounter) };
  } catch (error) {
    return {
      ok: false,
      issues: [
        { path: "", message: `YAML error: ${error instanceof Error ? error.message : String(error)}` },
      ],
    };
  }
}

type Locator = (path: ReadonlyArray<PropertyKey>) => { line: number; column: number } | undefined;

function syntaxIssue(
  error: { message: string; pos: [number, number] },
  lineCounter: LineCounter,
  text: string,
): Issue {
  // An error found at the end of the input (an unclosed bracket) belongs to the last line written, not to the
  // empty line after the final newline, which an editor does not show.
  const pos = lineCounter.linePos(Math.min(error.pos[0], Math.max(0, text.trimEnd().length - 1)));
  const firstLine = error.message.split("\n")[0] ?? error.message;
  return {
    path: "",
    message: `YAML syntax error: ${firstLine}`,
    ...(pos && { line: pos.line, column: pos.col }),
  };
}

/** The line of the deepest node on `path` that exists in the text (a missing field points at its parent). */
function locator(doc: Document, lineCounter: LineCounter): Locator {
  return (path) => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth) as unknown[], true);
      if (isNode(node) && node.range) {
        const pos = lineCounter.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return undefined;
  };
}

/**
 * Synchronously, so issues come in the schema's order; again asynchronously when the value meets an asynchronous
 * check (a pipeline's schedule: croner is imported when one is met, schedule.ts), which zod refuses to run
 * synchronously (it throws; the checks are pure, so running them again changes nothing).
 */
async function parseSchema<S extends z.ZodMiniType>(schema: S, value: unknown) {
  try {
    return schema.safeParse(value);
  } catch (error) {
    if (!(error instanceof $ZodAsyncError)) throw error;
    return schema.safeParseAsync(value);
  }
}

/** Validates a parsed value against a schema, locating each issue in the text it came from. */
export async function validate<S extends z.ZodMiniType>(
  schema: S,
  value: unknown,
  locate?: Locator,
): Promise<Validated<z.output<S>>> {
  const tooDeep = depthProblem(value);
  if (tooDeep) return { ok: false, issues: [tooDeep], warnings: [] };
  const result = await parseSchema(schema, value);
  if (result.success) return { ok: true, value: result.data, warnings: [] };
  // Locating an issue walks the document, so only the first few are located and reported; the rest are counted.
  const all = result.error.issues;
  const issues: Issue[] = all.slice(0, LIMITS.issuesReported).map((issue) => ({
    path: formatPath(issue.path),
    message: issue.message,
    ...locate?.(issue.path),
  }));
  if (all.length > LIMITS.issuesReported)
    issues.push({ path: "", message: `and ${all.length - LIMITS.issuesReported} more problems` });
  return { ok: false, issues, warnings: [] };
}

export function parsePipeline(textOrValue: string | unknown): Promise<Validated<Pipeline>> {
  return parseWith(Pipeline, textOrValue);
}

export async function parseJobTemplate(textOrValue: string | unknown): Promise<Validated<JobTemplate>> {
  const parsed =
    typeof textOrValue === "string" ? parseText(textOrValue) : { ok: true as const, value: textOrValue };
  if (!parsed.ok) return { ...parsed, warnings: [] };
  // The manifest may be given as a YAML string inside the document, as the contract shows it.
  const value = parsed.value as { template?: unknown } | null;
  if (value && typeof value === "object" && typeof value.template === "string") {
    const inner = parseText(value.template);
    if (!inner.ok)
      return {
        ok: false,
        issues: inner.issues.map((i) => ({ ...i, path: formatPath(["template"]) })),
        warnings: [],
      };
    value.template = inner.value;
  }
  const result = await validate(JobTemplate, value, "locate" in parsed ? parsed.locate : undefined);
  return result.ok ? { ...result, warnings: jobTemplateWarnings(result.value) } : result;
}

async function parseWith<S extends z.ZodMiniType>(
  schema: S,
  textOrValue: unknown,
): Promise<Validated<z.output<S>>> {
  if (typeof textOrValue !== "string") return validate(schema, textOrValue);
  const parsed = parseText(textOrValue);
  if (!parsed.ok) return { ...parsed, warnings: [] };
  return validate(schema, parsed.value, parsed.locate);
}
