import { describe, expect, it } from "vitest";
import { foldReports, type ReportFact, transition } from "../../core/engine/index.js";
import { at, newRun, play, started } from "../helpers/factories.js";

/** A started run whose parallel stage ("unit", "lint", "types") is submitted. */
function submitted() {
  return play(newRun(), [
    started(),
    ...["unit", "lint", "types"].map((task) => ({ type: "task.submitted" as const, task, attempt: 1 })),
  ]).run;
}

const reports: ReportFact[] = [
  { event: { type: "task.started", task: "lint", attempt: 1 }, at: at(2) },
  { event: { type: "task.succeeded", task: "unit", attempt: 1, outputs: { A: "1" } }, at: at(3) },
  { event: { type: "task.succeeded", task: "lint", attempt: 1 }, at: at(4) },
  { event: { type: "task.failed", task: "types", attempt: 1, message: "exit 2" }, at: at(5) },
];

describe("folding task reports into a run", () => {
  it("applies each at its receipt time, in receipt order, whatever order they were read in", () => {
    const run = submitted();
    const folded = foldReports(run, reports);
    expect(foldReports(run, [...reports].reverse())).toEqual(folded);
    // The same as the engine applying them one by one, as a callback recording into the run did before.
    let oneByOne = run;
    for (const report of reports) oneByOne = transition(oneByOne, report.event, report.at).run;
    expect(folded).toEqual(oneByOne);
    expect(folded.stages[0]?.tasks.map((t) => t.status)).toEqual(["succeeded", "succeeded", "failed"]);
  });

  it("changes nothing when folded again: a report already in the run is a repeat", () => {
    const once = foldReports(submitted(), reports);
    expect(foldReports(once, reports)).toBe(once);
    expect(foldReports(once, [...reports, ...reports])).toBe(once);
  });

  it("keeps the first ending of an attempt: a different one received later is refused by the engine", () => {
    const run = submitted();
    const late: ReportFact = {
      event: { type: "task.failed", task: "unit", attempt: 1, message: "late" },
      at: at(9),
    };
    const folded = foldReports(run, [reports[1] as ReportFact, late]);
    expect(folded.stages[0]?.tasks[0]).toMatchObject({ status: "succeeded", outputs: { A: "1" } });
  });

  it("returns the very run given when there is nothing to fold", () => {
    const run = submitted();
    expect(foldReports(run, [])).toBe(run);
  });
});
