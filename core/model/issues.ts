import type * as z from "zod/mini";

/** One problem found in user input, located by its path (`stages[1].tasks[0].job`). */
export interface Issue {
  path: string;
  message: string;
  /** Where in the YAML or JSON text, when the problem came from one (1-based). */
  line?: number;
  column?: number;
}

/** Formats a zod-style path the way users read it: `stages[1].tasks[0].job`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

export function issuesFromZod(error: z.core.$ZodError, prefix: ReadonlyArray<PropertyKey> = []): Issue[] {
  return error.issues.map((issue) => ({
    path: formatPath([...prefix, ...issue.path]),
    message: issue.message,
  }));
}

/** `path: message` lines, for errors that must be read in a terminal. */
export function describeIssues(issues: readonly Issue[]): string {
  return issues
    .map((i) => {
      const at = i.line === undefined ? "" : ` (line ${i.line}, column ${i.column ?? 1})`;
      return i.path ? `${i.path}${at}: ${i.message}` : `${i.message}${at}`;
    })
    .join("\n");
}

export type Validated<T> =
  | { ok: true; value: T; warnings: Issue[] }
  | { ok: false; issues: Issue[]; warnings: Issue[] };
