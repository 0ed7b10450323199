import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNotificationSender } from "../../core/adapters/notify/index.js";
import type { Run } from "../../core/model/index.js";
import { NotificationLane } from "../../infra/local/queue-poller.js";
import { driveRun } from "../helpers/drive.js";
import { newRun, pipeline, runTask, taskState } from "../helpers/factories.js";
import { MemoryRunner } from "../helpers/memory-runner.js";
import { testSystem } from "../helpers/system.js";
import { RECEIVER_TARGETS } from "../receivers/fixtures.js";

/** A notification target that takes every request and answers none until released: a robot that hangs. */
async function startHangingTarget() {
  const held: ServerResponse[] = [];
  let received = 0;
  let dropped = 0;
  let released = false;
  const answer = (res: ServerResponse) =>
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  const server = createServer((req, res) => {
    req.resume();
    received++;
    res.on("close", () => {
      if (!res.writableEnded) dropped++;
    });
    if (released) answer(res);
    else held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    /** Requests it holds unanswered, their senders still waiting. */
    hanging: () => held.filter((res) => !res.writableEnded && !res.destroyed).length,
    received: () => received,
    dropped: () => dropped,
    release() {
      released = true;
      for (const res of held.splice(0)) answer(res);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let target: Awaited<ReturnType<typeof startHangingTarget>>;
beforeAll(async () => {
  target = await startHangingTarget();
});
afterAll(() => target.close());

/** Jobs that succeed as soon as they are submitted. */
function instantRunner() {
  const runner = new MemoryRunner();
  runner.onSubmit = (launch) => runner.set(launch.jobName, { state: "succeeded" });
  return runner;
}

/** A build, then a deploy that waits for alice's approval: the run only advances when told to. */
const gated = (name: string, notify: ReturnType<typeof pipeline>["notify"]) =>
  pipeline({
    name,
    notify,
    stages: [
      { name: "build", tasks: [runTask("compile")] },
      { name: "ship", tasks: [runTask("deploy", { approval: { approvers: ["alice"] } })] },
    ],
  });

describe("notifications off the scheduling path", () => {
  it("lets a run and another run advance while a notification target hangs, then delivers once it answers", async () => {
    // The sender, the budget and the message's visibility would all wait far longer than this test: only the
    // target's release ends the hang.
    const system = await testSystem({
      runner: instantRunner(),
      sender: createNotificationSender({ targets: RECEIVER_TARGETS, timeoutMs: 10 * 60_000 }),
      notifyBudgetSeconds: 10 * 60,
      visibilityTimeoutSeconds: 10 * 60,
    });
    const lane = new NotificationLane();
    const slow = newRun({
      id: "hangself",
      pipeline: gated("noisy", [{ kind: "webhook", url: target.url, on: ["run.started", "run.succeeded"] }]),
    });
    const other = newRun({ id: "hangother", pipeline: gated("quiet", []) });
    for (const run of [slow, other]) {
      await system.stores.runs.saveRun(run);
      await system.queue.send([
        { runId: run.id, event: { type: "run.created" }, dedupKey: `created:${run.id}` },
      ]);
    }
    const waiting = (run: Run) => taskState(run, "deploy").status === "waiting";
    await driveRun(system, "hangself", { done: (run) => waiting(run) && target.hanging() === 1, lane });
    await driveRun(system, "hangother", { done: waiting, lane });

    // The run's "run.started" notice is in the target's hands; both runs are approved and go on regardless.
    const alice = { kind: "person", name: "alice" } as const;
    for (const id of ["hangself", "hangother"])
      await system.commands.handle(id, { type: "approval.granted", task: "deploy", by: "alice" }, alice);
    const succeeded = (run: Run) => run.status === "succeeded";
    const done = await driveRun(system, "hangself", { done: succeeded, lane });
    expect((await driveRun(system, "hangother", { done: succeeded, lane })).status).toBe("succeeded");

    expect(done.stages.flatMap((s) => s.tasks.map((t) => t.status))).toEqual(["succeeded", "succeeded"]);
    expect(target.hanging()).toBe(1);
    expect(target.dropped()).toBe(0);
    expect(lane.size).toBe(1);
    expect(done.outbox.flatMap((e) => (e.type === "notify" ? [e.event] : []))).toEqual([
      "run.started",
      "run.succeeded",
    ]);

    target.release();
    const delivered = await driveRun(system, "hangself", { done: (r) => r.outbox.length === 0, lane });
    await lane.drain();
    expect(delivered.deliveryFailures ?? []).toEqual([]);
    // Each notice sent once: the one that hung, and the one queued behind it in the run's notification group.
    expect(target.received()).toBe(2);
  });
});

describe("a target's time budget", () => {
  it("gives a target that never answers up after its budget, once, and records why on the run", async () => {
    const hanging = await startHangingTarget();
    try {
      const system = await testSystem({
        runner: instantRunner(),
        sender: createNotificationSender({ targets: RECEIVER_TARGETS, timeoutMs: 10 * 60_000 }),
        notifyBudgetSeconds: 0.2,
      });
      const run = newRun({
        id: "budgeted",
        pipeline: pipeline({
          name: "budgeted",
          notify: [{ kind: "webhook", url: hanging.url, on: ["run.succeeded"] }],
          stages: [{ name: "build", tasks: [runTask("compile")] }],
        }),
      });
      await system.stores.runs.saveRun(run);
      await system.queue.send([
        { runId: run.id, event: { type: "run.created" }, dedupKey: `created:${run.id}` },
      ]);
      const done = await driveRun(system, run.id, {
        done: (r) => r.status === "succeeded" && r.outbox.length === 0,
      });
      expect(done.deliveryFailures).toEqual([
        expect.objectContaining({
          target: "webhook",
          error: expect.stringMatching(/no answer within the 0.2 s/),
        }),
      ]);
      expect(hanging.received()).toBe(1);
    } finally {
      await hanging.close();
    }
  });
});
