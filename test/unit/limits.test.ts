import { describe, expect, it } from "vitest";
import { transition } from "../../core/engine/index.js";
import { byteLength, LIMITS, Pipeline } from "../../core/model/index.js";
import { jobTemplate, newRun, trigger } from "../helpers/factories.js";

describe("the largest valid run", () => {
  it(`fits in one DynamoDB item (${LIMITS.itemBytes} bytes)`, () => {
    // Job templates at their combined limit, a definition at its limit, every task's outputs at the run limit.
    const jobs = Object.fromEntries(
      Array.from({ length: 4 }, (_, i) => {
        const name = `job-${i}`;
        const job = jobTemplate({
          name,
          description: "d".repeat(1000),
          params: Array.from({ length: 50 }, (_, k) => ({ name: `P${k}`, description: "p".repeat(230) })),
        });
        return [name, job];
      }),
    );
    const templateBytes = Object.values(jobs).reduce((sum, j) => sum + byteLength(JSON.stringify(j)), 0);
    expect(templateBytes).toBeGreaterThan(LIMITS.jobTemplatesPerPipelineBytes * 0.95);
    expect(templateBytes).toBeLessThanOrEqual(LIMITS.jobTemplatesPerPipelineBytes);

    const taskCount = LIMITS.tasksPerPipeline;
    const padding = Math.floor((LIMITS.pipelineBytes - 17_000) / taskCount);
    const definition = Pipeline.parse({
      name: "big",
      stages: Array.from({ length: 10 }, (_, s) => ({
        name: `stage-${s}`,
        parallel: true,
        tasks: Array.from({ length: taskCount / 10 }, (_, t) => ({
          name: `task-${s}-${t}-${"n".repeat(40)}`,
          job: `job-${t % 4}`,
          params: { X: "v".repeat(padding) },
          retries: 10,
          timeoutSeconds: 86400,
        })),
      })),
    });
    expect(byteLength(JSON.stringify(definition))).toBeGreaterThan(LIMITS.pipelineBytes * 0.85);

    let run = newRun({
      pipeline: definition,
      jobs,
      params: { P1: "x".repeat(LIMITS.paramsPerRunBytes - 10) },
      trigger: trigger({ message: "m".repeat(100_000) }),
    });
    run = transition(run, { type: "run.created" }, "2026-11-23T10:00:00.000Z").run;
    const perTask = Math.floor(LIMITS.outputBytesPerRun / taskCount) - 8;
    for (const stage of run.stages)
      for (const task of stage.tasks) {
        task.outputs = { OUT: "o".repeat(perTask) };
        task.message = "e".repeat(LIMITS.messageBytes);
        task.status = "failed";
        task.attempt = 11;
        task.jobName = "hf-x".padEnd(63, "x");
        for (const key of ["queuedAt", "submittedAt", "startedAt", "finishedAt", "deadline"] as const)
          task[key] = run.createdAt;
      }
    const size = byteLength(JSON.stringify(run));
    expect(size).toBeLessThan(LIMITS.itemBytes - 8 * 1024); // room for the item's key and index attributes
  });
});
