import { describe, expect, it } from "vitest";
import { callbackTaskId } from "../../core/engine/index.js";
import { isTerminalRun } from "../../core/model/index.js";
import type { WorkMessage } from "../../core/ports.js";
import { createCallbackApp } from "../../functions/callback.js";
import { driveRun } from "../helpers/drive.js";
import { newRun, pipeline, runTask } from "../helpers/factories.js";
import { MemoryRunner } from "../helpers/memory-runner.js";
import { testSystem } from "../helpers/system.js";

describe("lost callbacks and messages", () => {
  it("still finish every run through the reconciler when 30% of callbacks and 10% of queue messages are dropped", async () => {
    const runner = new MemoryRunner();
    const system = await testSystem({ runner });
    const callbacks = createCallbackApp(system.callback);
    const random = mulberry32(7);
    let droppedCallbacks = 0;
    let droppedMessages = 0;

    // Jobs finish at once; their callbacks reach hookflow 70% of the time.
    runner.onSubmit = (launch) => {
      runner.set(launch.jobName, {
        state: "succeeded",
        terminationMessage: `${launch.task.toUpperCase()}=ok`,
      });
      if (random() < 0.3) {
        droppedCallbacks++;
        return;
      }
      void callbacks.request(
        `/callbacks/tasks/${callbackTaskId(launch.runId, launch.task, launch.attempt)}`,
        {
          method: "POST",
          headers: {
            authorization: `Bearer ${launch.secretEnv.HOOKFLOW_TASK_TOKEN}`,
            "content-type": "application/json",
          },
          body: JSON.stringify({ status: "succeeded" }),
        },
      );
    };
    // The queue drops one message in ten.
    const send = system.queue.send.bind(system.queue);
    system.queue.send = async (messages: Array<WorkMessage & { dedupKey: string }>) => {
      const kept = messages.filter(() => random() >= 0.1);
      droppedMessages += messages.length - kept.length;
      if (kept.length > 0) await send(kept);
    };

    const p = pipeline({
      name: "lossy",
      stages: [
        { name: "a", tasks: [runTask("first")] },
        { name: "b", parallel: true, tasks: [runTask("x"), runTask("y"), runTask("z")] },
        { name: "c", tasks: [runTask("last")] },
      ],
    });
    const ids = Array.from({ length: 20 }, (_, i) => `lossy${i}`);
    for (const id of ids) await system.stores.runs.saveRun(newRun({ id, pipeline: p }));
    await system.queue.send(
      ids.map((id) => ({ runId: id, event: { type: "run.created" }, dedupKey: `created:${id}` })),
    );

    const started = Date.now();
    const finished = await Promise.all(
      ids.map((id) => driveRun(system, id, { timeoutMs: 60_000, reconcileEveryMs: 1000 })),
    );
    const seconds = (Date.now() - started) / 1000;
    expect(finished.every((r) => isTerminalRun(r.status))).toBe(true);
    expect(finished.map((r) => r.status)).toEqual(ids.map(() => "succeeded"));
    expect(droppedCallbacks).toBeGreaterThan(10);
    expect(droppedMessages).toBeGreaterThan(2);
    console.log(
      `lost messages: 20 runs × 5 tasks finished in ${seconds.toFixed(1)} s with the reconciler every 1 s; dropped ${droppedCallbacks} callbacks and ${droppedMessages} queue messages`,
    );
  }, 90_000);
});

/** A small seeded generator, so that a failure can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
