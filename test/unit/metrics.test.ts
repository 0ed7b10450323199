import { describe, expect, it } from "vitest";
import { emfMetrics as emfAdapter, METRICS_NAMESPACE } from "../../core/adapters/metrics.js";
import type { Run, RunEvent } from "../../core/model/index.js";
import type { MetricPoint } from "../../core/ports.js";
import { runChangeMetrics } from "../../core/services/run-metrics.js";
import { emfMetrics, emfProblems } from "../helpers/emf.js";
import { at, newRun, pipeline, play, runTask } from "../helpers/factories.js";

/** build → test (2 in parallel) → ship, as in the benchmarks. */
const threeStages = pipeline({
  name: "three",
  stages: [
    { name: "build", tasks: [runTask("compile")] },
    { name: "test", parallel: true, tasks: [runTask("unit"), runTask("lint")] },
    { name: "ship", tasks: [runTask("deploy")] },
  ],
});

const ref = (task: string, attempt = 1) => ({ task, attempt });

/** Each step is one saved change: its events applied at `seconds` after T0; returns every change's metrics. */
function measure(steps: Array<[number, RunEvent[]]>): { run: Run; changes: MetricPoint[][] } {
  let run = newRun({ id: "m1", pipeline: threeStages });
  const changes: MetricPoint[][] = [];
  for (const [seconds, events] of steps) {
    const next = play(
      run,
      events.map((e): [RunEvent, string] => [e, at(seconds)]),
    ).run;
    changes.push(runChangeMetrics(run, next));
    run = next;
  }
  return { run, changes };
}

const named = (points: MetricPoint[], name: MetricPoint["name"]) => points.filter((p) => p.name === name);

describe("what a run's saved changes measure", () => {
  const { run, changes } = measure([
    [0, [{ type: "run.created" }]],
    [2, [{ type: "task.submitted", ...ref("compile") }]],
    [3, [{ type: "task.started", ...ref("compile") }]],
    [13, [{ type: "task.succeeded", ...ref("compile") }]],
    [
      14,
      [
        { type: "task.submitted", ...ref("unit") },
        { type: "task.submitted", ...ref("lint") },
      ],
    ],
    [
      15,
      [
        { type: "task.started", ...ref("unit") },
        { type: "task.started", ...ref("lint") },
      ],
    ],
    [20, [{ type: "task.failed", ...ref("lint"), message: "lint failed" }]],
    [25, [{ type: "task.succeeded", ...ref("unit") }]],
  ]);
  const all = changes.flat();

  it("counts the run started once and finished once, by status", () => {
    expect(run.status).toBe("failed");
    expect(named(all, "RunsStarted")).toEqual([{ name: "RunsStarted", unit: "Count", value: 1 }]);
    expect(named(all, "RunsFinished")).toEqual([
      { name: "RunsFinished", unit: "Count", value: 1, dimensions: { Status: "failed" } },
    ]);
  });

  it("times each attempt from its start to its end, by how it ended", () => {
    expect(named(all, "TaskDuration").map((p) => [p.value, p.dimensions?.Status])).toEqual([
      [10_000, "succeeded"],
      [5_000, "failed"],
      [10_000, "succeeded"],
    ]);
  });

  it("times the first submission from the run's creation, and a stage's advance from the last end before it", () => {
    expect(named(all, "WebhookToSubmitLatency").map((p) => p.value)).toEqual([2_000]);
    // compile ended at 13 s, the test stage's first submission at 14 s; the ship stage never started.
    expect(named(all, "StageAdvanceLatency").map((p) => p.value)).toEqual([1_000]);
  });

  it("measures nothing for a change that changes nothing it counts, and nothing twice", () => {
    expect(changes[2]).toEqual([]); // compile started: counted when it ends
    expect(runChangeMetrics(run, run)).toEqual([]);
  });
});

describe("EMF lines", () => {
  it("are valid embedded metric format documents, one per set of dimensions", async () => {
    const lines: string[] = [];
    const metrics = emfAdapter("hookflow", (l) => lines.push(l));
    metrics.add(
      { name: "RunsStarted", unit: "Count", value: 1 },
      { name: "RunsFinished", unit: "Count", value: 1, dimensions: { Status: "failed" } },
      { name: "RunsFinished", unit: "Count", value: 1, dimensions: { Status: "succeeded" } },
      { name: "RunsFinished", unit: "Count", value: 1, dimensions: { Status: "failed" } },
      { name: "QueueAge", unit: "Milliseconds", value: 42 },
    );
    await metrics.flush();
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(emfProblems(line)).toEqual([]);
    const found = lines.flatMap(emfMetrics);
    expect(found).toContainEqual({
      namespace: METRICS_NAMESPACE,
      name: "RunsFinished",
      unit: "Count",
      values: [1, 1],
      dimensions: { service: "hookflow", Status: "failed" },
    });
    expect(found.find((m) => m.name === "QueueAge")).toMatchObject({ unit: "Milliseconds", values: [42] });
    await metrics.flush();
    expect(lines).toHaveLength(3); // flushed points are not written again
  });

  it("split a metric's values into lines of at most 100, as the specification allows", async () => {
    const lines: string[] = [];
    const metrics = emfAdapter("hookflow", (l) => lines.push(l));
    for (let i = 0; i < 250; i++) metrics.add({ name: "TaskDuration", unit: "Milliseconds", value: i });
    await metrics.flush();
    expect(lines.map((l) => emfProblems(l))).toEqual([[], [], []]);
    expect(lines.flatMap(emfMetrics).flatMap((m) => m.values)).toHaveLength(250);
  });

  it("the checker itself refuses documents that break the specification", () => {
    const valid = {
      _aws: {
        Timestamp: 1,
        CloudWatchMetrics: [
          { Namespace: "N", Dimensions: [["service"]], Metrics: [{ Name: "M", Unit: "Count" }] },
        ],
      },
      service: "s",
      M: 1,
    };
    expect(emfProblems(JSON.stringify(valid))).toEqual([]);
    expect(emfProblems(JSON.stringify({ ...valid, _aws: { ...valid._aws, Timestamp: "now" } }))).toHaveLength(
      1,
    );
    expect(emfProblems(JSON.stringify({ ...valid, M: "1" }))).toHaveLength(1);
    expect(emfProblems(JSON.stringify({ ...valid, service: undefined }))).toHaveLength(1);
    expect(emfProblems(JSON.stringify({ M: 1 }))).toEqual(["no _aws object"]);
  });
});
