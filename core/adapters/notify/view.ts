import type { NotifyEvent } from "../../model/index.js";
import type { RunNotice } from "../../ports.js";

/** How a notice should feel: each service turns it into a colour, or an emoji where it has none. */
export type Tone = "success" | "failure" | "canceled" | "running" | "waiting";

export interface Fact {
  label: string;
  value: string;
}

/** What every message shows, independent of any service's format. */
export interface NoticeView {
  tone: Tone;
  emoji: string;
  /** "web-app: run failed", without the emoji. */
  title: string;
  facts: Fact[];
  /** The first line of the commit message. */
  commitMessage?: string;
  failure?: { task: string; message?: string };
  approvers?: string[];
  url: string;
}

const TONES: Record<NotifyEvent, Tone> = {
  "run.started": "running",
  "run.succeeded": "success",
  "run.failed": "failure",
  "run.canceled": "canceled",
  "task.waiting": "waiting",
  "task.failed": "failure",
  "task.succeeded": "success",
};

const EMOJI: Record<Tone, string> = {
  success: "✅",
  failure: "❌",
  canceled: "⚪",
  running: "🔵",
  waiting: "⏳",
};

/** A commit subject can be as long as its author liked; a chat message shows the start of it. */
const COMMIT_MESSAGE_CHARS = 300;
const SHORT_COMMIT = 7;

export function describeNotice(notice: RunNotice): NoticeView {
  const tone = TONES[notice.event];
  const { trigger, task } = notice;
  const facts: Fact[] = [
    { label: "Pipeline", value: notice.pipeline },
    { label: "Run", value: notice.runId },
    { label: "Status", value: notice.status },
  ];
  if (task && notice.event.startsWith("task."))
    facts.push({ label: "Task", value: `${task.name} (${task.status})` });
  facts.push({ label: "Repository", value: `${trigger.repository} (${trigger.provider})` });
  facts.push(refFact(trigger));
  facts.push({ label: "Commit", value: trigger.commit.slice(0, SHORT_COMMIT) });
  facts.push({ label: "Author", value: trigger.author });
  if (notice.durationSeconds !== undefined)
    facts.push({ label: "Duration", value: formatDuration(notice.durationSeconds) });

  const subject = clipChars(firstLine(trigger.message), COMMIT_MESSAGE_CHARS);
  const failed =
    notice.failedTask ??
    (notice.event === "task.failed" && task ? { name: task.name, message: task.message } : undefined);
  const approvers = notice.event === "task.waiting" ? task?.approvers : undefined;
  return {
    tone,
    emoji: EMOJI[tone],
    title: `${notice.pipeline}: ${headline(notice)}`,
    facts,
    ...(subject && { commitMessage: subject }),
    ...(failed && { failure: { task: failed.name, ...(failed.message && { message: failed.message }) } }),
    ...(approvers && approvers.length > 0 && { approvers }),
    url: notice.url,
  };
}

function headline(notice: RunNotice): string {
  const task = notice.task?.name ?? "?";
  switch (notice.event) {
    case "run.started":
      return "run started";
    case "run.succeeded":
      return "run succeeded";
    case "run.failed":
      return "run failed";
    case "run.canceled":
      return "run canceled";
    case "task.waiting":
      return `task ${task} awaits approval`;
    case "task.failed":
      return `task ${task} failed`;
    case "task.succeeded":
      return `task ${task} succeeded`;
  }
}

function refFact(trigger: RunNotice["trigger"]): Fact {
  if (trigger.tag) return { label: "Tag", value: trigger.tag };
  if (trigger.branch) return { label: "Branch", value: trigger.branch };
  return { label: "Ref", value: trigger.ref };
}

/** "45s", "3m 12s", "2h 0m 5s": whole seconds, largest unit first. */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.round(totalSeconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h ${m}m ${s}s`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

export function firstLine(text: string): string {
  return (text.split(/\r?\n/, 1)[0] ?? "").trim();
}

/** At most `max` characters (code points, so an emoji is never split), ending in "…" when cut. */
export function clipChars(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

/**
 * At most `maxBytes` of UTF-8, marker included, cut between code points so that the result is valid UTF-8 and
 * no character is shown half.
 */
export function clipUtf8(text: string, maxBytes: number, marker: string): string {
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return text;
  const budget = maxBytes - Buffer.byteLength(marker, "utf8");
  let used = 0;
  let kept = "";
  for (const char of text) {
    const size = Buffer.byteLength(char, "utf8");
    if (used + size > budget) break;
    used += size;
    kept += char;
  }
  return kept + marker;
}
