import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKubernetesRunner } from "../../core/adapters/kubernetes/index.js";
import { BOOTSTRAP_TOKEN, type Pipeline, type Run } from "../../core/model/index.js";
import { taskSlots } from "../../core/wiring.js";
import { createReconcilerHandler } from "../../functions/reconciler.js";
import { type FakeKubernetes, startFakeKubernetes } from "../fake-kubernetes/index.js";
import { dynamoClient, interceptOnce, UNREACHABLE } from "../helpers/aws.js";
import { newRun, pipeline, runTask, taskState } from "../helpers/factories.js";
import { testSystem } from "../helpers/system.js";

/**
 * A new run's first message takes its task's slot beside the save that records the run started (docs/decisions.md,
 * 5): what each of the two failing alone leaves, on DynamoDB Local and the fake Kubernetes API server. Whatever
 * fails, no Job exists without its slot, none is created twice, and no slot stays held by an attempt no run has.
 */

let fake: FakeKubernetes;
beforeAll(async () => {
  fake = await startFakeKubernetes();
});
afterAll(() => fake.close());

async function system() {
  const client = dynamoClient();
  const runner = await createKubernetesRunner({
    kubeconfig: fake.kubeconfig,
    namespace: "ci",
    retryBudgetMs: 500,
    requestTimeoutMs: 5000,
    retryBaseDelayMs: 10,
  });
  const sys = await testSystem({ runner, dynamoClient: client });
  return { ...sys, client };
}
type System = Awaited<ReturnType<typeof system>>;

const oneTask = (name: string): Pipeline =>
  pipeline({ name, stages: [{ name: "s", tasks: [runTask("t")] }] });

/** The run's own item (its head), as a save writes it. */
const isRunSave = (runId: string) => (command: string, input: Record<string, unknown>) =>
  command === "PutItem" && (input.Item as { pk?: { S?: string } }).pk?.S === `RUN#${runId}`;
/** The pipeline's slot counter, as a take updates it. */
const isSlotTake = (pipelineName: string) => (command: string, input: Record<string, unknown>) =>
  command === "UpdateItem" && (input.Key as { pk?: { S?: string } }).pk?.S === `SLOTS#${pipelineName}`;

const created = (runId: string) => ({ runId, event: { type: "run.created" as const } });
/** The Jobs the cluster was asked to create for the run, and created (a repeat is answered 409). */
const jobsCreated = (runId: string) =>
  fake.requestsTo("POST", "/jobs").filter((r) => r.status === 201 && belongsTo(r, runId));
const belongsTo = (request: { body?: unknown }, runId: string) =>
  (request.body as { metadata?: { labels?: Record<string, string> } }).metadata?.labels?.[
    "hookflow.dev/run"
  ] === runId;

async function holders(sys: System, pipelineName: string) {
  return (await sys.stores.taskSlots.read(pipelineName))?.holders ?? [];
}
const keyOf = (sys: System, runId: string) => sys.stores.taskSlots.keyOf({ runId, task: "t", attempt: 1 });

describe("a new run's slot, taken beside the save that records it started", () => {
  it("a save that fails leaves the slot taken and no Job; the message's retry takes it again as a no-op and submits once", async () => {
    const sys = await system();
    const run = newRun({ id: "besidesave1", pipeline: oneTask("beside-save") });
    await sys.stores.runs.saveRun(run);
    const hit = interceptOnce(sys.client, isRunSave(run.id), UNREACHABLE);
    await expect(sys.scheduler.handle(created(run.id))).rejects.toThrow("DynamoDB unreachable");
    expect(hit()).toBe(true);
    // The run as it was, its slot held by its first attempt (the take went beside the save), nothing submitted.
    const stored = (await sys.stores.runs.getRun(run.id)) as Run;
    expect(stored.startedAt).toBeUndefined();
    expect(taskState(stored, "t").jobName).toBeUndefined();
    expect(await holders(sys, "beside-save")).toEqual([keyOf(sys, run.id)]);
    expect(jobsCreated(run.id)).toHaveLength(0);

    // The message comes back.
    await sys.scheduler.handle(created(run.id));
    const after = (await sys.stores.runs.getRun(run.id)) as Run;
    expect(taskState(after, "t").submittedAt).toBeDefined();
    expect(await holders(sys, "beside-save")).toEqual([keyOf(sys, run.id)]);
    expect(jobsCreated(run.id)).toHaveLength(1);
  });

  it("a save that fails, then a cancel before any retry: no Job ever, and the repair gives the slot back", async () => {
    const sys = await system();
    const p = oneTask("beside-cancel");
    const run = newRun({ id: "besidecancel1", pipeline: p });
    // Another run of the pipeline in flight: the repair looks at pipelines with runs in flight.
    const other = newRun({ id: "besidecancel2", pipeline: p });
    for (const r of [run, other]) await sys.stores.runs.saveRun(r);
    interceptOnce(sys.client, isRunSave(run.id), UNREACHABLE);
    await expect(sys.scheduler.handle(created(run.id))).rejects.toThrow("DynamoDB unreachable");
    expect(await holders(sys, "beside-cancel")).toEqual([keyOf(sys, run.id)]);
    await sys.commands.handle(run.id, { type: "cancel.requested", by: "carol" }, BOOTSTRAP_TOKEN);
    expect((await sys.stores.runs.getRun(run.id))?.status).toBe("canceled");
    // The message's retry finds the run canceled: it submits nothing.
    await sys.scheduler.handle(created(run.id));
    const tick = createReconcilerHandler({
      runs: sys.stores.runs,
      queue: sys.queue,
      clock: sys.clock,
      log: sys.log,
      slots: taskSlots(sys),
    });
    await tick(); // suspects the slot no queued or running attempt explains
    await tick(); // gives it back
    expect(await holders(sys, "beside-cancel")).toEqual([]);
    expect(jobsCreated(run.id)).toHaveLength(0);
  });

  it.each([
    ["fails unsent", "before"],
    ["is done but its answer lost", "after"],
  ] as const)(
    "a take that %s beside a save that lands: the run records its task queued and no Job; the retry submits it under one slot",
    async (_, when) => {
      const sys = await system();
      const name = `beside-take-${when}`;
      const run = newRun({ id: `besidetake${when}`, pipeline: oneTask(name) });
      await sys.stores.runs.saveRun(run);
      const hit = interceptOnce(sys.client, isSlotTake(name), {
        [when]: () => {
          throw new Error("DynamoDB unreachable");
        },
      });
      await expect(sys.scheduler.handle(created(run.id))).rejects.toThrow("DynamoDB unreachable");
      expect(hit()).toBe(true);
      const stored = (await sys.stores.runs.getRun(run.id)) as Run;
      expect(stored.startedAt).toBeDefined();
      expect(taskState(stored, "t")).toMatchObject({ status: "queued" });
      expect(taskState(stored, "t").jobName).toBeDefined();
      expect(taskState(stored, "t").submittedAt).toBeUndefined();
      expect(await holders(sys, name)).toEqual(when === "after" ? [keyOf(sys, run.id)] : []);
      expect(jobsCreated(run.id)).toHaveLength(0);

      // The message comes back: the run has started, so it owes nothing new; the reconciler's look submits the task.
      await sys.scheduler.handle(created(run.id));
      expect(jobsCreated(run.id)).toHaveLength(0);
      await sys.scheduler.handle({ runId: run.id, event: { type: "reconcile" } });
      expect(taskState((await sys.stores.runs.getRun(run.id)) as Run, "t").submittedAt).toBeDefined();
      expect(await holders(sys, name)).toEqual([keyOf(sys, run.id)]);
      expect(jobsCreated(run.id)).toHaveLength(1);
    },
  );

  it("a cancel that wins the race with the save: the run, applied again, submits nothing, and the slot taken beside is given back at once", async () => {
    const sys = await system();
    const run = newRun({ id: "besiderace1", pipeline: oneTask("beside-race") });
    await sys.stores.runs.saveRun(run);
    interceptOnce(sys.client, isRunSave(run.id), {
      before: () => sys.commands.handle(run.id, { type: "cancel.requested", by: "carol" }, BOOTSTRAP_TOKEN),
    });
    await sys.scheduler.handle(created(run.id));
    expect((await sys.stores.runs.getRun(run.id))?.status).toBe("canceled");
    expect(await holders(sys, "beside-race")).toEqual([]);
    expect(jobsCreated(run.id)).toHaveLength(0);
  });
});
