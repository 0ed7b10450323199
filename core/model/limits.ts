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
  /** A log the API answers with: its newest part (a Lambda answer may be 6 MB at most). */
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

export const DEFAULT_TASK_TIMEOUT_SECONDS = 3600;
export const MAX_TASK_TIMEOUT_SECONDS = 7 * 24 * 3600;
export const MAX_RETRIES = 10;

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

/** The newest part of a log within `maxBytes`, from a line start, saying how much was left out before it. */
export function logTail(text: string, maxBytes: number): string {
  const size = byteLength(text);
  if (size <= maxBytes) return text;
  const kept = Buffer.from(text, "utf8")
    .subarray(size - maxBytes)
    .toString("utf8");
  const fromLine = kept.slice(kept.indexOf("\n") + 1);
  return `[… ${size - byteLength(fromLine)} bytes before this are not shown: use ?tail=N]\n${fromLine}`;
}
