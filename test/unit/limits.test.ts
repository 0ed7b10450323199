import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { transition } from "../../core/engine/index.js";
import {
  byteLength,
  jsonStringBytes,
  LAMBDA_PAYLOAD_BYTES,
  LIMITS,
  LOG_CUT_NOTICE,
  logTail,
  Pipeline,
} from "../../core/model/index.js";
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
    // Earlier attempts at their bound: the run's whole history budget, spread over its tasks.
    const tasks = run.stages.flatMap((s) => s.tasks);
    const record = {
      attempt: 10,
      round: 3,
      status: "failed" as const,
      reason: "Failed" as const,
      message: "e".repeat(LIMITS.messageBytes),
      jobName: "hf-x".padEnd(63, "x"),
      startedAt: run.createdAt,
      finishedAt: run.createdAt,
      outputs: { OUT: "o".repeat(600) },
    };
    let historyBytes = 0;
    for (let i = 0; historyBytes + byteLength(JSON.stringify(record)) + 1 <= LIMITS.historyBytesPerRun; i++) {
      const task = tasks[i % tasks.length] as (typeof tasks)[number];
      task.history = [...(task.history ?? []), record];
      historyBytes += byteLength(JSON.stringify(record)) + 1;
    }
    expect(historyBytes).toBeGreaterThan(LIMITS.historyBytesPerRun * 0.95);
    const size = byteLength(JSON.stringify(run));
    expect(size).toBeLessThan(LIMITS.itemBytes - 8 * 1024); // room for the item's key and index attributes
  });
});

describe("a log answer's size as Lambda sends it (a JSON string)", () => {
  const encoded = (text: string) => Buffer.byteLength(JSON.stringify(text)) - 2;

  it("counts each character as JSON.stringify writes it", () => {
    fc.assert(fc.property(fc.string({ unit: "binary" }), (text) => jsonStringBytes(text) === encoded(text)));
    // The costly ones, and lone surrogates (escaped by a well-formed JSON.stringify).
    for (const text of ["\u0001", "\n", '"', "\\", "\u007f", "é", "€", "😀", "\ud800", "\udc00x"])
      expect(jsonStringBytes(text), JSON.stringify(text)).toBe(encoded(text));
  });

  it("keeps the newest whole lines within the bound, the notice included, saying how much it left out", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: "binary", maxLength: 40 }), { maxLength: 60 }),
        fc.integer({ min: 80, max: 600 }),
        (lines, maxBytes) => {
          const text = lines.map((line) => `${line.replaceAll("\n", " ")}\n`).join("");
          const answer = logTail(text, maxBytes);
          if (jsonStringBytes(text) <= maxBytes) return answer === text;
          const shown = answer.replace(LOG_CUT_NOTICE, "");
          const omitted = Number(/\d+/.exec(answer)?.[0]);
          return (
            jsonStringBytes(answer) <= maxBytes &&
            shown !== answer &&
            text.endsWith(shown) &&
            (shown === "" || text.length === shown.length || text[text.length - shown.length - 1] === "\n") &&
            omitted === byteLength(text) - byteLength(shown)
          );
        },
      ),
    );
  });

  it("answers a log of control characters, over 6 MiB once escaped, within the bound", () => {
    const line = `${"\u0001".repeat(1023)}\n`;
    const text = line.repeat((2 * LIMITS.logBytes) / line.length);
    expect(encoded(text)).toBeGreaterThan(LAMBDA_PAYLOAD_BYTES);
    const answer = logTail(text, LIMITS.logBytes);
    expect(encoded(answer)).toBeLessThanOrEqual(LIMITS.logBytes);
    expect(answer.replace(LOG_CUT_NOTICE, "").endsWith(line.repeat(100))).toBe(true);
  });
});
