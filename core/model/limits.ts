/**
 * A run is stored as one DynamoDB item (400 KB at most), holding its pipeline, the job templates it uses, its
 * tasks and their outputs. These limits keep the largest valid run under that size; `test/unit/limits.test.ts`
 * builds such a run and measures it.
 */
export const LIMITS = {
  tasksPerPipeline: 100,
  pipelineBytes: 48 * 1024,
  jobTemplateBytes: 16 * 1024,
  /** Job templates a single pipeline uses, together. */
  jobTemplatesPerPipelineBytes: 64 * 1024,
  outputBytesPerTask: 4 * 1024,
  outputBytesPerRun: 128 * 1024,
  /** Longer commit messages are shown cut, with a marker; they are display text, not data. */
  commitMessageBytes: 2 * 1024,
  /** A task's message (an error, a reason): display text, cut with a marker beyond this. */
  messageBytes: 512,
  paramsPerRunBytes: 16 * 1024,
  /** Earlier attempts kept on a run, together (their messages and outputs); the oldest go first beyond it. */
  historyBytesPerRun: 32 * 1024,
  /**
   * A log the API answers with: its newest part, counted as JSON-escaped bytes (`jsonStringBytes`). Lambda sends
   * the answer as a JSON string, where a control character takes 6 bytes, and refuses answers over 6 MB.
   */
  logBytes: 1024 * 1024,
  itemBytes: 400 * 1024,
  /**
   * A definition's text (YAML or JSON), refused before it is parsed. Larger than `pipelineBytes` (which counts the
   * definition as JSON) so that comments and layout fit; the API's body limit may be stricter.
   */
  definitionTextBytes: 64 * 1024,
  /** Nesting of mappings and lists in a definition (a Job manifest needs about 12). */
  definitionDepth: 64,
  /** Problems reported for one definition: locating each in the text walks it, so the rest are only counted. */
  issuesReported: 50,
  /**
   * Globs (`branches`, `tags`, `paths`, `when`). Matching a name costs at most (its length × the list's states),
   * so these bound the work of every delivery against every trigger before any delivery arrives.
   */
  globsPerList: 32,
  globLength: 128,
  /** `*`, `**`, `?` and `[…]` in one pattern. */
  wildcardsPerGlob: 8,
  /** Alternatives of one pattern once its `{a,b}` groups are expanded. */
  globAlternatives: 16,
  /** Matching states of one list: about the total length of its patterns after expansion. */
  globStatesPerList: 512,
  /** A branch or tag name longer than this matches no pattern (git allows longer; no host shows them whole). */
  refNameLength: 255,
  /**
   * Changed files a push lists: over any of these, the list counts as unknown and a `paths` filter does not skip
   * the pipeline (as for a host that lists no files).
   */
  changedFiles: 1000,
  changedPathLength: 1024,
  changedPathsBytes: 32 * 1024,
} as const;

/** Lambda refuses a synchronous invocation whose event, or answer, is over this many bytes (6 MiB). */
export const LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024;

/**
 * The largest webhook delivery hookflow takes, by where it runs; one rule for the limit it enforces and states.
 * - `server` (the local stack): GitHub's own maximum, counted in raw bytes.
 * - `lambda`: a request reaches the function inside an event of at most LAMBDA_PAYLOAD_BYTES, its body a JSON
 *   string (or base64), so the body is counted as the event carries it (`jsonStringBytes`), leaving 64 KiB for
 *   the event's headers (API Gateway allows 10 KB of them, 60 KB at worst once escaped) and request context. A
 *   body within it always reaches hookflow; a larger one never gets further than the 413 below, or than Lambda.
 */
export const WEBHOOK_BODY_LIMITS = {
  server: 25 * 1024 * 1024,
  lambda: LAMBDA_PAYLOAD_BYTES - 64 * 1024,
} as const;

export const DEFAULT_TASK_TIMEOUT_SECONDS = 3600;
/**
 * Grace after a task's timeout before the engine times it out itself, so that the runner's own report (the pod
 * killed at its deadline) usually wins; never more than the timeout itself, so short timeouts stay short. The
 * Kubernetes Job's own deadline, a backstop for a pod that never starts, is the timeout plus this grace too.
 */
export const TIMEOUT_GRACE_SECONDS = 30;
export const timeoutGraceSeconds = (timeoutSeconds: number) =>
  Math.min(TIMEOUT_GRACE_SECONDS, timeoutSeconds);
export const MAX_TASK_TIMEOUT_SECONDS = 7 * 24 * 3600;
export const MAX_RETRIES = 10;
/** The longest wait before one retry (backoff doubles per retry up to it). */
export const MAX_BACKOFF_SECONDS = 3600;
export const MAX_RUN_TIMEOUT_SECONDS = 7 * 24 * 3600;
/** `concurrency.max` at most. */
export const MAX_CONCURRENT_RUNS = 50;
/**
 * A pipeline's tasks submitted and not ended at once, across all its runs (and so also one run's tasks queued or
 * running at once), unless the pipeline's `maxRunningTasks` says otherwise.
 */
export const DEFAULT_MAX_RUNNING_TASKS = 10;
/** Earlier attempts kept per task (the newest); a run's whole history is also bounded by `historyBytesPerRun`. */
export const ATTEMPTS_KEPT_PER_TASK = 5;

export function byteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** Cuts display text to `maxBytes` with a visible marker; never used for data such as outputs. */
export function clipText(text: string, maxBytes: number): string {
  if (byteLength(text) <= maxBytes) return text;
  const marker = " … [cut]";
  let cut = text.slice(0, maxBytes);
  while (byteLength(cut) + byteLength(marker) > maxBytes) cut = cut.slice(0, -16);
  return cut + marker;
}

/** The last `count` lines of `text`, keeping its final newline. */
export function lastLines(text: string, count: number): string {
  if (count <= 0) return "";
  let start = text.endsWith("\n") ? text.length - 1 : text.length;
  for (let seen = 0; seen < count; seen++) {
    if (start <= 0) return text;
    start = text.lastIndexOf("\n", start - 1);
    if (start < 0) return text;
  }
  return text.slice(start + 1);
}

/** The first line `logTail` adds when it left something out: a reader following a log skips it. */
export const LOG_CUT_NOTICE = /^\[… \d+ bytes before this are not shown[^\n]*\n/;

/**
 * The bytes `text` takes inside a JSON string, as JSON.stringify writes it (and Lambda sends an answer's body):
 * UTF-8, with `"`, `\` and the short escapes (`\n`, `\t`…) taking 2 bytes, other control characters and lone
 * surrogates 6 (`\u0001`).
 */
export function jsonStringBytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const cost = jsonCharBytes(text, i);
    bytes += cost.bytes;
    i += cost.units - 1;
  }
  return bytes;
}

const SHORT_ESCAPES = new Set([0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x22, 0x5c]);
const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** The JSON bytes of the character starting at `i`, and how many UTF-16 units it spans (2 for a surrogate pair). */
function jsonCharBytes(text: string, i: number): { bytes: number; units: number } {
  const code = text.charCodeAt(i);
  if (SHORT_ESCAPES.has(code)) return { bytes: 2, units: 1 };
  if (code < 0x20) return { bytes: 6, units: 1 };
  if (code < 0x80) return { bytes: 1, units: 1 };
  if (code < 0x800) return { bytes: 2, units: 1 };
  if (isHigh(code) && isLow(text.charCodeAt(i + 1))) return { bytes: 4, units: 2 };
  if (isHigh(code) || isLow(code)) return { bytes: 6, units: 1 };
  return { bytes: 3, units: 1 };
}

const cutNotice = (omittedBytes: number) =>
  `[… ${omittedBytes} bytes before this are not shown: use ?tail=N]\n`;

/**
 * The newest part of a log within `maxBytes` as a JSON string (`jsonStringBytes`, the notice included), from a
 * line start, saying how many bytes were left out before it. Raw bytes never exceed the JSON-escaped count, so
 * the bound holds for a plain HTTP answer too.
 */
export function logTail(text: string, maxBytes: number): string {
  if (jsonStringBytes(text) <= maxBytes) return text;
  // Room for the notice at its longest: it cannot leave out more bytes than the whole log has.
  let budget = maxBytes - jsonStringBytes(cutNotice(byteLength(text)));
  let start = text.length;
  while (start > 0) {
    const units =
      start >= 2 && isLow(text.charCodeAt(start - 1)) && isHigh(text.charCodeAt(start - 2)) ? 2 : 1;
    const { bytes } = jsonCharBytes(text, start - units);
    if (bytes > budget) break;
    budget -= bytes;
    start -= units;
  }
  const kept = text.slice(start);
  const fromLine = text[start - 1] === "\n" ? kept : kept.slice(kept.indexOf("\n") + 1);
  return cutNotice(byteLength(text) - byteLength(fromLine)) + fromLine;
}

/** The largest log kept per container by default: beyond it, the newest part is kept and the cut is said. */
export const DEFAULT_ARCHIVED_LOG_MAX_BYTES = 50 * 1024 * 1024;
