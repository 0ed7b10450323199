import { type Document, isNode, LineCounter, parseAllDocuments, parseDocument } from "yaml";
import type * as z from "zod";
import { formatPath, type Issue, type Validated } from "./issues.js";
import { JobTemplate, jobTemplateWarnings } from "./job-template.js";
import { Pipeline } from "./pipeline.js";

const YAML_OPTIONS = { uniqueKeys: true, prettyErrors: false, strict: true } as const;

/** A YAML or JSON text (JSON is YAML) as a plain value, or its syntax errors with line and column. */
export function parseText(text: string): Parsed {
  const lineCounter = new LineCounter();
  return fromDocument(parseDocument(text, { ...YAML_OPTIONS, lineCounter }), lineCounter, text);
}

/** Several `---`-separated documents, as `hookflow apply -f` reads them. */
export function parseTexts(text: string): Parsed[] {
  const lineCounter = new LineCounter();
  return [...parseAllDocuments(text, { ...YAML_OPTIONS, lineCounter })]
    .map((doc) => fromDocument(doc, lineCounter, text))
    .filter((doc) => !doc.ok || (doc.value !== null && doc.value !== undefined));
}

type Parsed = { ok: true; value: unknown; locate: Locator } | { ok: false; issues: Issue[] };

function fromDocument(doc: Document, lineCounter: LineCounter, text: string): Parsed {
  if (doc.errors.length > 0)
    return { ok: false, issues: doc.errors.map((e) => syntaxIssue(e, lineCounter, text)) };
  // Some errors (an alias to no anchor, too many aliases) only show when the document becomes a value.
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }), locate: locator(doc, lineCounter) };
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

/** Validates a parsed value against a schema, locating each issue in the text it came from. */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  locate?: Locator,
): Validated<z.output<S>> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data, warnings: [] };
  const issues = result.error.issues.map((issue) => ({
    path: formatPath(issue.path),
    message: issue.message,
    ...locate?.(issue.path),
  }));
  return { ok: false, issues, warnings: [] };
}

export function parsePipeline(textOrValue: string | unknown): Validated<Pipeline> {
  return parseWith(Pipeline, textOrValue);
}

export function parseJobTemplate(textOrValue: string | unknown): Validated<JobTemplate> {
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
  const result = validate(JobTemplate, value, "locate" in parsed ? parsed.locate : undefined);
  return result.ok ? { ...result, warnings: jobTemplateWarnings(result.value) } : result;
}

function parseWith<S extends z.ZodType>(schema: S, textOrValue: unknown): Validated<z.output<S>> {
  if (typeof textOrValue !== "string") return validate(schema, textOrValue);
  const parsed = parseText(textOrValue);
  if (!parsed.ok) return { ...parsed, warnings: [] };
  return validate(schema, parsed.value, parsed.locate);
}
