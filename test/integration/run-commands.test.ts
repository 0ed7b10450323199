import { beforeAll, describe, expect, it } from "vitest";
import { wakeUpDue } from "../../core/engine/follow-up.js";
import { type Actor, BOOTSTRAP_TOKEN, type Run } from "../../core/model/index.js";
import type { Logger } from "../../core/ports.js";
import { parseWorkMessage } from "../../core/services/batch.js";
import { TaskTokens } from "../../core/services/tokens.js";
import { createApiApp, MAX_API_BODY_BYTES } from "../../functions/api.js";
import { createCallbackApp } from "../../functions/callback.js";
import { createWebhookApp } from "../../functions/webhook.js";
import { driveRun } from "../helpers/drive.js";
import { newRun, pipeline, runTask, taskState } from "../helpers/factories.js";
import { TEST_TOKEN_SECRET, testSystem } from "../helpers/system.js";
import { deliver, fixture } from "../helpers/webhooks.js";

type System = Awaited<ReturnType<typeof testSystem>>;
let system: System;
let callback: ReturnType<typeof createCallbackApp>;
let api: ReturnType<typeof createApiApp>;
let webhook: ReturnType<typeof createWebhookApp>;
const tokens = new TaskTokens(TEST_TOKEN_SECRET);

/** Every log line, to see who each command came from. */
const lines: Array<{ message: string; fields: Record<string, unknown> }> = [];
const capture: Logger = {
  info: (message, fields = {}) => lines.push({ message, fields }),
  warn: () => {},
  error: () => {},
};
const actorsOf = (message: string, runId: string) =>
  lines
    .filter(
      (l) =>
        l.message === message && (l.fields.runId === runId || (l.fields.runs as string[])?.includes(runId)),
    )
    .map((l) => l.fields.actor as Actor);

const gated = pipeline({
  name: "gated",
  triggers: [{ provider: "gitea", repository: "infra/deploy-tools", branches: ["develop"] }],
  stages: [
    { name: "build", tasks: [runTask("unit")] },
    { name: "ship", tasks: [runTask("deploy", { approval: { approvers: ["alice"] } })] },
  ],
});

beforeAll(async () => {
  system = await testSystem({ log: capture, env: { HOOKFLOW_ROLES: JSON.stringify({ viewer: ["*"] }) } });
  callback = createCallbackApp(system.callback);
  api = createApiApp(system.api);
  webhook = createWebhookApp(system.webhook);
  await system.stores.definitions.putPipeline(gated, new Date().toISOString());
  // Approvals are a person's: tokens the bootstrap token makes for them (no sign-in here).
  for (const person of ["alice", "mallory"]) {
    const made = await call("POST", "/api/tokens", { name: person, for: person });
    personTokens[person] = ((await made.json()) as { token: string }).token;
  }
});
const personTokens: Record<string, string> = {};

async function startRun(id: string) {
  await system.stores.runs.saveRun(newRun({ id, pipeline: gated }));
  await system.queue.send([{ runId: id, event: { type: "run.created" }, dedupKey: `created:${id}` }]);
  await driveRun(system, id, { done: (r) => taskState(r, "unit").submittedAt !== undefined });
}

function report(runId: string, body: unknown) {
  return callback.request(`/callbacks/tasks/${runId}.unit.1`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${tokens.tokenFor({ runId: runId, task: "unit", attempt: 1 })}`,
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
  });
}

function call(method: string, path: string, body?: unknown, token = "test-api-token") {
  return api.request(path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
}

describe("a task's report, through the one seam", () => {
  it("answers the same report again 200, changing nothing; a conflicting one 409 with the task's status", async () => {
    await startRun("rcsame");
    const done = { status: "succeeded", outputs: { VERSION: "1.2.3" } };
    const first = await report("rcsame", done);
    expect(first.status).toBe(200);
    const after = await system.stores.runs.getRun("rcsame");

    const again = await report("rcsame", done);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ run: "rcsame", task: "unit", attempt: 1, status: "succeeded" });
    expect((await system.stores.runs.getRun("rcsame"))?.version).toBe(after?.version);

    const other = await report("rcsame", { status: "succeeded", outputs: { VERSION: "9.9.9" } });
    expect(other.status).toBe(409);
    expect(await other.json()).toMatchObject({ reason: "TaskTerminal", status: "succeeded" });
    const failed = await report("rcsame", { status: "failed", message: "exit 1" });
    expect(failed.status).toBe(409);
    expect((await system.stores.runs.getRun("rcsame"))?.version).toBe(after?.version);
  });
});

describe("who sent a command travels with it", () => {
  it("names the task attempt, the API token and the git host", async () => {
    await startRun("rcactor");
    expect((await report("rcactor", { status: "running" })).status).toBe(200);
    expect(actorsOf("run command", "rcactor")).toEqual([
      { kind: "task", runId: "rcactor", task: "unit", attempt: 1 },
    ]);

    expect((await call("POST", "/api/runs/rcactor/cancel", {})).status).toBe(200);
    expect(actorsOf("run command", "rcactor")[1]).toEqual({ kind: "token", id: "bootstrap" });

    const manual = await call("POST", "/api/pipelines/gated/runs", { commit: "a".repeat(40) });
    expect(manual.status).toBe(201);
    const { id } = (await manual.json()) as { id: string };
    expect(actorsOf("runs started", id)).toEqual([{ kind: "token", id: "bootstrap" }]);

    const delivered = await deliver(webhook, "gitea", fixture("gitea-push"), { deliveryId: "rc-actor" });
    expect(delivered.status).toBe(202);
    const { runs } = (await delivered.json()) as { runs: Array<{ id: string }> };
    expect(actorsOf("runs started", runs[0]?.id ?? "")).toEqual([
      { kind: "gitHost", provider: "gitea", delivery: "rc-actor" },
    ]);
  });
});

describe("refusals are answered by the one error handler", () => {
  it.each([
    [
      "an approver who is not one",
      403,
      "/tasks/deploy/approve",
      { by: "mallory" },
      "NotAnApprover",
      "rcwaiting",
    ],
    ["a task the run does not have", 404, "/tasks/nope/approve", { by: "alice" }, "UnknownTask", "rcwaiting"],
    [
      "an approval nothing waits for",
      409,
      "/tasks/deploy/approve",
      { by: "alice" },
      "NotWaitingForApproval",
      "rcrefuse",
    ],
    ["a rerun of a run still going", 409, "/rerun", {}, "RunActive", "rcrefuse"],
  ])("refuses %s with %i, changing nothing", async (_, status, path, body, reason, runId) => {
    if (!(await system.stores.runs.getRun(runId))) {
      await startRun(runId);
      if (runId === "rcwaiting") {
        expect((await report(runId, { status: "succeeded" })).status).toBe(200);
        await driveRun(system, runId, { done: (r) => taskState(r, "deploy").status === "waiting" });
      }
    }
    const before = await system.stores.runs.getRun(runId);
    const by = (body as { by?: string }).by;
    const res = await call("POST", `/api/runs/${runId}${path}`, body, by ? personTokens[by] : undefined);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error.length).toBeGreaterThan(5);
    expect((await system.stores.runs.getRun(runId))?.version).toBe(before?.version);
    const refused = lines.find((l) => l.fields.runId === runId && l.fields.outcome === `refused: ${reason}`);
    expect(refused).toBeDefined();
    // A task's route names the task on the command's line, as a callback names its attempt.
    expect(refused?.fields.task).toBe(/^\/tasks\/([^/]+)\//.exec(path)?.[1]);
  });
});

describe("every /api body is bounded before it is parsed", () => {
  it.each([
    ["a definition", "PUT", "/api/pipelines/huge", `name: huge\n# ${"x".repeat(MAX_API_BODY_BYTES)}\n`],
    [
      "a manual run",
      "POST",
      "/api/pipelines/gated/runs",
      JSON.stringify({ params: { A: "x".repeat(MAX_API_BODY_BYTES) } }),
    ],
    [
      "an approval",
      "POST",
      "/api/runs/rcrefuse/tasks/deploy/approve",
      JSON.stringify({ by: "a".repeat(MAX_API_BODY_BYTES) }),
    ],
  ])(
    "answers %s over the limit 413 with the contract's error body, storing nothing",
    async (_, method, path, body) => {
      const res = await call(method, path, body);
      expect(res.status).toBe(413);
      expect(await res.json()).toEqual({ error: `an /api body is at most ${MAX_API_BODY_BYTES / 1024} KB` });
      expect(await system.stores.definitions.getPipeline("huge")).toBeUndefined();
    },
  );

  it("still takes a definition up to the limit, refused for what it says, not for its size", async () => {
    const res = await call(
      "PUT",
      "/api/pipelines/huge",
      `name: huge\n# ${"x".repeat(MAX_API_BODY_BYTES - 64)}\n`,
    );
    expect(res.status).toBe(400);
  });
});

describe("what a command leaves owed is queued", () => {
  it("notifications in the run's notification group, one message each; the rest in the run's own group", async () => {
    const own = await testSystem();
    const told = pipeline({
      name: "told",
      notify: [{ kind: "webhook", url: "http://127.0.0.1:9/hook", on: ["run.canceled"] }],
      stages: [{ name: "build", tasks: [runTask("unit")] }],
    });
    await own.stores.runs.saveRun(newRun({ id: "rcqueued", pipeline: told }));
    await own.commands.handle("rcqueued", { type: "run.created" }, { kind: "scheduler" });
    await drain(own);

    const handled = await own.commands.handle("rcqueued", { type: "cancel.requested" }, BOOTSTRAP_TOKEN);
    expect(handled.outcome).toBe("accepted");
    const notice = handled.effects.find((e) => e.type === "notify");
    const queued = await drain(own);
    expect(queued.filter(([group]) => group === "notify:rcqueued")).toEqual([
      ["notify:rcqueued", { runId: "rcqueued", deliver: notice?.key }],
    ]);
    expect(queued.filter(([group]) => group !== "notify:rcqueued")).toEqual([
      ["rcqueued", { runId: "rcqueued", event: { type: "reconcile" }, observe: false }],
    ]);
  });
});

describe("a report that owes no fold queues nothing", () => {
  it("a start (the task's, the relay's) is read at once but folded with the attempt's end", async () => {
    const own = await testSystem({ env: { HOOKFLOW_RELAY_TOKEN: "relay-token-0123456789abcdef" } });
    const id = "rcstart";
    await own.stores.runs.saveRun(newRun({ id, pipeline: gated }));
    await own.commands.handle(id, { type: "run.created" }, { kind: "scheduler" });
    await own.commands.handle(
      id,
      { type: "task.submitted", task: "unit", attempt: 1 },
      { kind: "scheduler" },
    );
    await drain(own);
    const saved = (await own.stores.runs.getRun(id))?.version;
    const task = { kind: "task" as const, runId: id, task: "unit", attempt: 1 };

    const started = await own.commands.handle(id, { type: "task.started", task: "unit", attempt: 1 }, task);
    expect(started.outcome).toBe("accepted");
    const relayed = await own.commands.handle(
      id,
      { type: "task.started", task: "unit", attempt: 1, relay: true },
      { kind: "relay" },
    );
    expect(relayed.outcome).toBe("accepted");
    expect(await drain(own)).toEqual([]);
    // Every read folds the reports: the task shows running, watched by the relay, so no follow-up is due.
    const read = await own.stores.runs.getRun(id);
    expect(taskState(read as Run, "unit")).toMatchObject({ status: "running", relayedAttempt: 1 });
    expect(wakeUpDue(read as Run, new Date().toISOString())).toBe(false);
    const loaded = await own.stores.runs.loadRun(id);
    expect({ version: loaded?.saved.version, unsaved: loaded?.unsaved }).toEqual({
      version: saved,
      unsaved: true,
    });

    const ended = await own.commands.handle(id, { type: "task.succeeded", task: "unit", attempt: 1 }, task);
    expect(ended.outcome).toBe("accepted");
    expect(
      (await drain(own)).map(([group, message]) => [group, (message as { event?: unknown }).event]),
    ).toEqual([[id, { type: "reconcile" }]]);
  });
});

/** Every message on the queue now, with its group, taken off the queue. */
async function drain(own: System) {
  const taken: Array<[string | undefined, unknown]> = [];
  for (;;) {
    const messages = await own.queues.queue.receive({ waitSeconds: 0 });
    if (messages.length === 0) return taken;
    for (const m of messages) {
      taken.push([m.Attributes?.MessageGroupId, parseWorkMessage(m.Body ?? "")]);
      await own.queues.queue.delete(m.ReceiptHandle ?? "");
    }
  }
}
