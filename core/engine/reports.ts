import type { Run, RunEvent } from "../model/index.js";
import { transition } from "./transition.js";

/** What a task may report about its own attempt through its callback. */
export type TaskReportEvent = Extract<
  RunEvent,
  { type: "task.started" | "task.outputs" | "task.succeeded" | "task.failed" }
>;

/** A task's report as recorded apart from its run (docs/decisions.md, 1), with when it was received. */
export interface ReportFact {
  event: TaskReportEvent;
  at: string;
}

const rank: Record<TaskReportEvent["type"], number> = {
  "task.started": 0,
  "task.outputs": 1,
  "task.succeeded": 2,
  "task.failed": 2,
};

/**
 * The run with its recorded reports folded in, in the order they were received (a start before the end it
 * preceded when received at the same instant). Each applies at its own receipt time, so every reader folds the
 * same facts to the same run; one already folded, or refused, changes nothing (the engine ignores it).
 */
export function foldReports(run: Run, reports: readonly ReportFact[]): Run {
  const ordered = [...reports].sort(
    (a, b) => a.at.localeCompare(b.at) || rank[a.event.type] - rank[b.event.type],
  );
  let folded = run;
  for (const report of ordered) {
    const result = transition(folded, report.event, report.at);
    if (!result.ignored) folded = result.run;
  }
  return folded;
}

/**
 * Where a report is kept: one item per kind of fact per attempt, so the same report again lands on the same
 * item, and an attempt's one ending (`end`) is claimed once: a different ending after it is refused.
 */
export function reportKind(event: TaskReportEvent, outputsHash: (text: string) => string): string {
  switch (event.type) {
    case "task.started":
      // The relay's apart from the task's own: the relay's still says it watches the Job after the task's came.
      return event.relay ? "started#relay" : "started";
    case "task.outputs":
      return `outputs#${outputsHash(JSON.stringify(event.outputs)).slice(0, 32)}`;
    case "task.succeeded":
    case "task.failed":
      return "end";
  }
}
