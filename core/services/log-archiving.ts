import { maskText, secretValues } from "../engine/index.js";
import { DEFAULT_ARCHIVED_LOG_MAX_BYTES, type Run, type RunEvent } from "../model/index.js";
import type { ArchivedAttempt, AttemptKey, Clock, ContainerLog, LogArchive, TaskRunner } from "../ports.js";
import type { TaskTokens } from "./tokens.js";

/** A line's time as Kubernetes gives it with `timestamps=true`: RFC 3339, then one space. */
const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) /;

export interface LogArchivingDeps {
  archive: LogArchive;
  runner: TaskRunner;
  tokens: TaskTokens;
  clock: Clock;
  /** Per container. Default DEFAULT_ARCHIVED_LOG_MAX_BYTES. */
  maxBytes?: number;
}

export interface AttemptToArchive extends AttemptKey {
  jobName: string;
  /** The effect that owes it: the event recording the copy names it. */
  key: string;
}

/**
 * Copies an ended attempt's log into the archive, masked on the way in (the run's sensitive values and the
 * attempt's own callback token), so that no stored object ever holds a sensitive value. An attempt already
 * kept is not copied again; a pod already gone is recorded as such, once, in the log's place.
 */
export class LogArchiving {
  private readonly maxBytes: number;

  constructor(private readonly deps: LogArchivingDeps) {
    this.maxBytes = deps.maxBytes ?? DEFAULT_ARCHIVED_LOG_MAX_BYTES;
  }

  /**
   * `stopping`: the attempt is being canceled right after, so what its containers wrote so far is its log.
   * Otherwise a container still running (its callback came before its end) is waited for: undefined, and the
   * copy stays owed until a later reconcile finds it ended (without failing the run's message, which would hold
   * up the run's other work).
   */
  async copy(run: Run, attempt: AttemptToArchive, stopping: boolean): Promise<RunEvent | undefined> {
    const kept = (await this.deps.archive.find(attempt)) ?? (await this.collect(run, attempt, stopping));
    if (!kept) return undefined;
    return {
      type: "log.archived",
      key: attempt.key,
      task: attempt.task,
      attempt: attempt.attempt,
      containers: kept.containers.map((c) => c.name),
      ...(kept.gone !== undefined && { gone: true }),
    };
  }

  private async collect(
    run: Run,
    attempt: AttemptToArchive,
    stopping: boolean,
  ): Promise<ArchivedAttempt | undefined> {
    const collected = await this.deps.runner.collectLogs(attempt);
    const archivedAt = this.deps.clock.now();
    if (collected.state === "gone")
      return this.deps.archive.keep(attempt, {
        containers: [],
        gone: goneNotice(attempt.jobName),
        archivedAt,
      });
    if (!collected.ended && !stopping) return undefined;
    const secrets = [
      ...secretValues(run),
      this.deps.tokens.tokenFor(attempt),
      this.deps.tokens.previousReleaseTokenFor(attempt),
    ];
    const containers = collected.containers.map((c) => bounded(masked(c, secrets), this.maxBytes));
    return this.deps.archive.keep(attempt, { containers, archivedAt });
  }
}

export function goneNotice(jobName: string): string {
  return `[hookflow] the pod of Job ${jobName} never started, or was gone before its log could be copied (deleted, evicted, or its node lost): this attempt's log was not kept\n`;
}

export function cutNotice(maxBytes: number): string {
  return `[hookflow] this log was longer than ${maxBytes} bytes, the most kept per container: only its newest lines are kept\n`;
}

/**
 * Masks the text of the lines, not their times, so that a time never splits a sensitive value from the mask. A
 * value spanning lines changes the count of lines: then the times cannot be matched again and are dropped.
 */
function masked(container: ContainerLog, secrets: string[]): ContainerLog {
  if (!container.timestamps) return { ...container, text: maskText(container.text, secrets) };
  const lines = container.text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const stamps = lines.map((line) => STAMP.exec(line)?.[1]);
  const bodies = lines.map((line, i) => (stamps[i] ? line.slice((stamps[i] as string).length + 1) : line));
  const text = maskText(bodies.join(""), secrets);
  const maskedLines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  if (maskedLines.length !== lines.length) return { ...container, text, timestamps: false };
  return {
    ...container,
    text: maskedLines.map((line, i) => (stamps[i] ? `${stamps[i]} ${line}` : line)).join(""),
  };
}

/** The newest whole lines within `maxBytes`, after a line that says older ones were left out. */
function bounded(container: ContainerLog, maxBytes: number): ContainerLog {
  const bytes = Buffer.byteLength(container.text);
  if (bytes <= maxBytes && !container.cut) return container;
  const tail =
    bytes <= maxBytes
      ? container.text
      : Buffer.from(container.text)
          .subarray(bytes - maxBytes)
          .toString("utf8");
  const kept = bytes <= maxBytes ? tail : tail.slice(tail.indexOf("\n") + 1);
  return { ...container, text: cutNotice(maxBytes) + kept, cut: true };
}
/** A stored line without its time: what the live log shows, so a reader moving from one to the other sees the same. */
export function withoutTimes(text: string): string {
  return text.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) /gm, "");
}
