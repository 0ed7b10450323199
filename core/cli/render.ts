import type { RunView, TaskView } from "../engine/view.js";
import type { Pipeline, RunStatus, TaskStatus } from "../model/index.js";

/*
 * Pure rendering: views in, lines out (no trailing newlines). Colour is decided by the caller and passed in as a
 * Style, so that every function here gives the same text for the same input.
 */

// Kept here rather than imported from core/model: its zod schemas cost a quarter of a second per command.
export const RUN_STATUSES = ["pending", "running", "waiting", "succeeded", "failed", "canceled"] as const;
type MissingRunStatus = Exclude<RunStatus, (typeof RUN_STATUSES)[number]>;
// Fails to compile when core/model gains a run status this list lacks.
const _everyRunStatus: MissingRunStatus extends never ? true : never = true;
void _everyRunStatus;

const TERMINAL_RUN: ReadonlySet<string> = new Set<RunStatus>(["succeeded", "failed", "canceled"]);
const TERMINAL_TASK: ReadonlySet<string> = new Set<TaskStatus>([
  "succeeded",
  "failed",
  "canceled",
  "skipped",
]);
export const isTerminalRunStatus = (status: string) => TERMINAL_RUN.has(status);
export const isTerminalTaskStatus = (status: string) => TERMINAL_TASK.has(status);

const ESC = "\u001b[";
const SGR = { bold: 1, red: 31, green: 32, yellow: 33, grey: 90 } as const;
const STATUS_COLOR: Record<string, keyof typeof SGR> = {
  succeeded: "green",
  failed: "red",
  waiting: "yellow",
  running: "yellow",
  queued: "yellow",
  skipped: "grey",
  canceled: "grey",
};

export interface Style {
  /** `text` (the status itself by default) in the status's colour. */
  status(status: string, text?: string): string;
  bold(text: string): string;
  grey(text: string): string;
}

export function style(colour: boolean): Style {
  const paint = (code: number, text: string) => (colour && text ? `${ESC}${code}m${text}${ESC}0m` : text);
  return {
    status: (status, text = status) => {
      const colourName = STATUS_COLOR[status];
      return colourName ? paint(SGR[colourName], text) : text;
    },
    bold: (text) => paint(SGR.bold, text),
    grey: (text) => paint(SGR.grey, text),
  };
}

export const PLAIN = style(false);

// biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes start with ESC.
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/y;

/** Cuts a line to `width` visible characters, keeping (and closing) its colour codes. */
export function fitWidth(line: string, width: number): string {
  let visible = 0;
  let out = "";
  let cut = false;
  for (let i = 0; i < line.length; ) {
    ANSI.lastIndex = i;
    const code = ANSI.exec(line);
    if (code) {
      out += code[0];
      i += code[0].length;
      continue;
    }
    if (visible >= width) {
      cut = true;
      break;
    }
    out += line[i];
    visible += 1;
    i += 1;
  }
  return cut && out.includes(ESC) ? `${out}${ESC}0m` : out;
}

export interface Column {
  header: string;
  /** Styles a padded cell; `raw` is its text before padding. */
  style?: (padded: string, raw: string) => string;
}

/**
 * Left-aligned columns two spaces apart. A row's last non-empty cell is not padded, so that no line ends in
 * spaces, also when that cell is coloured (the padding of a styled cell is inside its colour codes, where
 * trimming cannot reach it).
 */
export function table(
  columns: ReadonlyArray<Column | string>,
  rows: ReadonlyArray<readonly string[]>,
): string[] {
  const cols = columns.map((c) => (typeof c === "string" ? { header: c } : c));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[], styled: boolean) => {
    const last = cols.reduce((found, _, i) => ((cells[i] ?? "").trim() === "" ? found : i), -1);
    return cols
      .slice(0, last + 1)
      .map((col, i) => {
        const raw = cells[i] ?? "";
        const padded = i === last ? raw : raw.padEnd(widths[i] ?? 0);
        return styled && col.style ? col.style(padded, raw) : padded;
      })
      .join("  ")
      .trimEnd();
  };
  return [
    line(
      cols.map((c) => c.header),
      false,
    ),
    ...rows.map((r) => line(r, true)),
  ];
}

/** 0.4s, 12s, 2m05s, 1h02m. */
function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  const seconds = ms / 1000;
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.floor(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

/** An ISO instant to the second, in UTC: `2026-03-01T12:00:05Z`. */
function formatTime(iso: string | undefined): string {
  if (!iso) return "-";
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** How long something ran, or has been running at `now`; "-" when it has not started. */
function elapsed(item: { startedAt?: string; finishedAt?: string; createdAt?: string }, now: number): string {
  const start = item.startedAt ?? (item.finishedAt ? item.createdAt : undefined);
  if (!start) return "-";
  return formatDuration((item.finishedAt ? Date.parse(item.finishedAt) : now) - Date.parse(start));
}

/** The short name of a ref: the branch or tag when it is one. */
function refName(trigger: RunView["trigger"]): string {
  return trigger.branch ?? (trigger.tag !== undefined ? `tag ${trigger.tag}` : trigger.ref);
}

const statusColumn = (header: string, s: Style): Column => ({
  header,
  style: (padded, raw) => s.status(raw, padded),
});

export function runsTable(runs: readonly RunView[], now: number, s: Style = PLAIN): string[] {
  return table(
    ["ID", "PIPELINE", statusColumn("STATUS", s), "REF", "CREATED", "DURATION"],
    runs.map((r) => [
      r.id,
      r.pipeline,
      r.status,
      refName(r.trigger),
      formatTime(r.createdAt),
      elapsed(r, now),
    ]),
  );
}

function describeTrigger(t: Pipeline["triggers"][number]): string {
  const filters = [...(t.branches ?? []), ...(t.tags ?? []).map((tag) => `tag ${tag}`)];
  return `${t.provider}:${t.repository} ${t.events.join("+")}${filters.length > 0 ? ` (${filters.join(", ")})` : ""}`;
}

export function pipelinesTable(pipelines: readonly Pipeline[]): string[] {
  return table(
    ["NAME", "TRIGGERS", "STAGES", "TASKS"],
    pipelines.map((p) => [
      p.name,
      p.triggers.length > 0 ? p.triggers.map(describeTrigger).join("; ") : "manual only",
      String(p.stages.length),
      String(p.stages.reduce((sum, stage) => sum + stage.tasks.length, 0)),
    ]),
  );
}

/** What a task's line says beside its status: its message, else what it waits for or who decided. */
function taskNote(task: TaskView): string {
  // The API's message for such a task says the same in other words ("waiting for approval by a or b").
  if (task.status === "waiting" && task.approvers?.length)
    return `awaiting approval by ${task.approvers.join(", ")}`;
  if (task.message) return task.message;
  if (task.approval)
    return `${task.approval.decision} by ${task.approval.by}${task.approval.comment ? `: ${task.approval.comment}` : ""}`;
  return "";
}

/** A run as `hookflow status` shows it: a header, then its stages with their tasks below them. */
export function renderRun(view: RunView, now: number, s: Style = PLAIN): string[] {
  const t = view.trigger;
  const source = [t.event, t.repository && `${t.provider} ${t.repository}`, t.ref, t.commit?.slice(0, 12)];
  const header = [
    `run ${s.bold(view.id)} · pipeline ${view.pipeline} · ${s.status(view.status)} · ${elapsed(view, now)}`,
    `trigger ${source.filter(Boolean).join(" · ")}`,
    `created ${formatTime(view.createdAt)}${view.round > 0 ? ` · round ${view.round}` : ""}`,
    ...(view.message ? [`message ${view.message}`] : []),
    "",
  ];
  const rows = view.stages.flatMap((stage) => [
    [`${stage.name}${stage.parallel ? " (parallel)" : ""}`, stage.status, "", "", ""],
    ...stage.tasks.map((task) => [
      `  ${task.name}`,
      task.status,
      String(task.attempt),
      elapsed(task, now),
      taskNote(task),
    ]),
  ]);
  return [
    ...header,
    ...table(["STAGE / TASK", statusColumn("STATUS", s), "ATTEMPT", "TIME", "MESSAGE"], rows),
  ];
}

/**
 * What changed between two polls of a run, one line each, for a watch whose output is not a terminal (CI
 * logs, pipes): tasks first, then the run, since a task's change is what moves the run.
 */
export function runChanges(
  previous: RunView | undefined,
  next: RunView,
  now: number,
  s: Style = PLAIN,
): string[] {
  const before = new Map(previous?.stages.flatMap((st) => st.tasks.map((t) => [`${st.name}/${t.name}`, t])));
  const lines: string[] = [];
  for (const stage of next.stages)
    for (const task of stage.tasks) {
      const was = before.get(`${stage.name}/${task.name}`);
      const changed = was
        ? was.status !== task.status || was.attempt !== task.attempt
        : task.status !== "pending";
      if (!changed) continue;
      const note = taskNote(task);
      const attempt = task.attempt > 1 ? ` (attempt ${task.attempt})` : "";
      lines.push(`${stage.name}/${task.name} ${s.status(task.status)}${attempt}${note ? `: ${note}` : ""}`);
    }
  if (!previous || previous.status !== next.status) {
    const took = isTerminalRunStatus(next.status) ? ` in ${elapsed(next, now)}` : "";
    const message = next.message && next.status !== "running" ? `: ${next.message}` : "";
    lines.push(`run ${next.id} (${next.pipeline}) ${s.status(next.status)}${took}${message}`);
  }
  return lines;
}

/** How many characters of `now`'s start are found near the end of `shown` before a full comparison. */
const LOG_PROBE = 64;

/**
 * The part of a task's log not shown yet. A log only grows, except that a runner may drop its oldest part
 * (the local runner keeps the newest 10 MiB): then the new text starts with an end of what was shown, and
 * what follows the longest such end is new. When nothing of what was shown is left, all of it is new.
 */
export function unseenLog(shown: string, now: string): string {
  if (now.startsWith(shown)) return now.slice(shown.length);
  const overlaps = (from: number) => now.startsWith(shown.slice(from));
  // An overlap is at most `now` long. The longest one starts earliest; those at least as long as the probe
  // start where the probe is found, so indexOf skips the rest.
  const probe = now.slice(0, LOG_PROBE);
  const earliest = Math.max(0, shown.length - now.length);
  const lastProbed = shown.length - probe.length;
  let at = shown.indexOf(probe, earliest);
  while (at >= 0 && at <= lastProbed) {
    if (overlaps(at)) return now.slice(shown.length - at);
    at = shown.indexOf(probe, at + 1);
  }
  for (at = Math.max(earliest, lastProbed + 1); at < shown.length; at++)
    if (overlaps(at)) return now.slice(shown.length - at);
  return now;
}
