import { readdir, readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { LineCounter, parseAllDocuments } from "yaml";
import type { ApiIssue, DefinitionKind } from "./client.js";
import { CliError } from "./client.js";

/** One pipeline or job template read for `hookflow apply`, with what it takes to point at its lines. */
export interface Definition {
  /** The file as the user named it. */
  file: string;
  kind: DefinitionKind;
  name: string;
  /** The document's own text, sent as it is written (comments and all). */
  text: string;
  /** The file line `text` starts on: a line the API gives within `text` is this much further down. */
  firstLine: number;
  /** The file line of a formatted path (`stages[1].tasks[0].job`), or of its deepest part that is written. */
  locate(path: string): number | undefined;
}

const DEFINITION_FILE = /\.(ya?ml|json)$/i;

/**
 * Reads every document of the given files and directories (a directory: its *.yaml, *.yml and *.json files,
 * sorted by name). Problems found without the server (unreadable files, YAML syntax, documents that are neither
 * kind) come back as `file:line: message` lines, so that nothing is applied from a set with a broken part.
 */
export async function readDefinitions(
  paths: readonly string[],
  cwd: string,
): Promise<{ definitions: Definition[]; problems: string[] }> {
  const files = (await Promise.all(paths.map((p) => filesOf(p, cwd)))).flat();
  const definitions: Definition[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const text = await readFile(resolve(cwd, file), "utf8").catch((error: Error) => {
      problems.push(`${file}: ${error.message}`);
      return undefined;
    });
    if (text === undefined) continue;
    const found = await splitFile(file, text);
    definitions.push(...found.definitions);
    problems.push(...found.problems);
  }
  return { definitions, problems };
}

async function filesOf(path: string, cwd: string): Promise<string[]> {
  const info = await stat(resolve(cwd, path)).catch((error: NodeJS.ErrnoException) => {
    throw new CliError(
      error.code === "ENOENT" ? `${path}: no such file or directory` : `${path}: ${error.message}`,
    );
  });
  if (!info.isDirectory()) return [path];
  const names = (await readdir(resolve(cwd, path), { withFileTypes: true }))
    .filter((entry) => entry.isFile() && DEFINITION_FILE.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  if (names.length === 0) throw new CliError(`${path}: no .yaml, .yml or .json files in this directory`);
  return names.map((n) => join(path, n));
}

/** Splits a file into its `---` documents, each keeping the text it was written as and where it sits. */
export async function splitFile(
  file: string,
  text: string,
): Promise<{ definitions: Definition[]; problems: string[] }> {
  // Each document is parsed again on its own by the same function the API uses, so that what is judged here
  // (duplicate keys, syntax) is judged as the server will judge it.
  const { parseText } = await import("../model/parse.js");
  const lines = new LineCounter();
  const definitions: Definition[] = [];
  const problems: string[] = [];
  // Only splits: each document is checked (duplicate keys included, linearly) by parseText below.
  for (const doc of parseAllDocuments(text, { lineCounter: lines, uniqueKeys: false })) {
    const [start, , end] = doc.range;
    const firstLine = lines.linePos(start).line;
    const own = text.slice(start, end);
    // Lines within `own` (what the parser counts) and lines of the file (what the user sees) differ by this.
    const fileLine = (ownLine: number) => firstLine - 1 + ownLine;
    const at = (line: number | undefined) => (line === undefined ? file : `${file}:${line}`);
    const parsed = parseText(own);
    if (!parsed.ok) {
      // An error found at the end of the input (an unclosed bracket, say) is placed after the document's last
      // line, on no line there is to look at: it points at the last line written instead.
      const lastWritten = own.trimEnd().split("\n").length;
      const line = (i: ApiIssue) =>
        i.line === undefined ? undefined : fileLine(Math.min(i.line, lastWritten));
      problems.push(
        ...parsed.issues.map((i) => `${at(line(i))}: ${i.path ? `${i.path}: ` : ""}${i.message}`),
      );
      continue;
    }
    if (parsed.value === null || parsed.value === undefined) continue;
    /** The file line of a path of this document. */
    const locate = (path: string) => {
      const line = parsed.locate(pathKeys(path))?.line;
      return line === undefined ? undefined : fileLine(line);
    };
    const value = parsed.value as Record<string, unknown>;
    const kind: DefinitionKind | undefined =
      typeof value !== "object" || Array.isArray(value)
        ? undefined
        : "template" in value
          ? "job"
          : "stages" in value
            ? "pipeline"
            : undefined;
    if (!kind) {
      problems.push(
        `${at(locate(""))}: neither a pipeline (it has no "stages") nor a job template (it has no "template")`,
      );
      continue;
    }
    if (typeof value.name !== "string" || value.name === "") {
      problems.push(`${at(locate("name"))}: name: a ${kind === "job" ? "job template" : kind} needs a name`);
      continue;
    }
    definitions.push({ file, kind, name: value.name, text: own, firstLine, locate });
  }
  return { definitions, problems };
}

/** `stages[1].tasks[0].job` → ["stages", 1, "tasks", 0, "job"], the inverse of core/model's formatPath. */
function pathKeys(path: string): Array<string | number> {
  return [...path.matchAll(/\[(\d+)\]|([^.[\]]+)/g)].map((m) => (m[1] !== undefined ? Number(m[1]) : m[2]!));
}

/** `file:line: path: message`; the API's line counts within the document, the file's from its top. */
export function formatIssue(definition: Definition, issue: ApiIssue): string {
  const line =
    issue.line !== undefined ? definition.firstLine - 1 + issue.line : definition.locate(issue.path);
  const at = line === undefined ? definition.file : `${definition.file}:${line}`;
  return `${at}: ${issue.path ? `${issue.path}: ` : ""}${issue.message}`;
}

/** Job templates before pipelines (a pipeline is checked against the templates it names), each in file order. */
export function applyOrder(definitions: readonly Definition[]): Definition[] {
  return [
    ...definitions.filter((d) => d.kind === "job"),
    ...definitions.filter((d) => d.kind === "pipeline"),
  ];
}
