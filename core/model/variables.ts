/**
 * Variables: what every task sees in its environment, and `${NAME}` references in definitions.
 *
 * Values from a webhook or a callback are untrusted: they reach a task as environment values, and are never
 * substituted into a container's command or args (see `UNTRUSTED_VARIABLES`).
 */

export const SYSTEM_VARIABLES = [
  "HOOKFLOW_RUN_ID",
  "HOOKFLOW_PIPELINE",
  "HOOKFLOW_TASK",
  "HOOKFLOW_CALLBACK_URL",
  "HOOKFLOW_TASK_TOKEN",
  /** Finally tasks only: `succeeded` or `failed`, how the stages before them ended. */
  "HOOKFLOW_RUN_STATUS",
  "GIT_PROVIDER",
  "GIT_REPOSITORY",
  "GIT_CLONE_URL",
  "GIT_REF",
  "GIT_BRANCH",
  "GIT_TAG",
  "GIT_COMMIT",
  "GIT_COMMIT_MESSAGE",
  "GIT_AUTHOR",
  "APP_VERSION",
] as const;
export type SystemVariable = (typeof SYSTEM_VARIABLES)[number];

/** Variables known when a run is created (everything but the per-task ones). */
export const RUN_VARIABLES: readonly SystemVariable[] = SYSTEM_VARIABLES.filter(
  (v) =>
    v !== "HOOKFLOW_TASK" &&
    v !== "HOOKFLOW_CALLBACK_URL" &&
    v !== "HOOKFLOW_TASK_TOKEN" &&
    v !== "HOOKFLOW_RUN_STATUS",
);

/**
 * Chosen by whoever pushes: branch and tag names, messages, authors. APP_VERSION and GIT_COMMIT are not here:
 * hookflow builds APP_VERSION from a safe alphabet and GIT_COMMIT is checked to be hex.
 */
export const UNTRUSTED_VARIABLES: ReadonlySet<string> = new Set([
  "GIT_REF",
  "GIT_BRANCH",
  "GIT_TAG",
  "GIT_COMMIT_MESSAGE",
  "GIT_AUTHOR",
  "GIT_CLONE_URL",
]);

export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Output keys that become variables of later tasks. */
export const OUTPUT_VARIABLE_NAME = /^[A-Z_][A-Z0-9_]*$/;

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Names referenced as `${NAME}` in a string. */
export function referencesIn(text: string): string[] {
  return [...text.matchAll(REFERENCE)].map((match) => match[1] as string);
}

/**
 * Replaces `${NAME}` with `lookup(NAME)` when it returns a string and leaves the reference as written otherwise
 * (a shell in the container may still expand it from the environment). One pass: a substituted value is never
 * scanned again, so a value cannot smuggle in a reference.
 */
export function substitute(text: string, lookup: (name: string) => string | undefined): string {
  return text.replace(REFERENCE, (whole, name: string) => lookup(name) ?? whole);
}

/** Every string in a JSON-like value, with its path. */
export function* stringsIn(value: unknown, path: PropertyKey[] = []): Generator<[string, PropertyKey[]]> {
  if (typeof value === "string") yield [value, path];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* stringsIn(v, [...path, i]);
  else if (value !== null && typeof value === "object")
    for (const [k, v] of Object.entries(value)) yield* stringsIn(v, [...path, k]);
}
