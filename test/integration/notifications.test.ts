import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCommitStatusReporter } from "../../core/adapters/commit-status/index.js";
import { dynamoStores } from "../../core/adapters/dynamo/store.js";
import { createNotificationSender, RATE_LIMITS } from "../../core/adapters/notify/index.js";
import { silentLogger } from "../../core/adapters/system.js";
import { transition } from "../../core/engine/index.js";
import type { Notifier, Run } from "../../core/model/index.js";
import type { RateLimiter } from "../../core/ports.js";
import { NotificationDelivery } from "../../core/services/outbox-delivery.js";
import { ViewGrants } from "../../core/services/view-grants.js";
import { createSchedulerHandler } from "../../functions/scheduler.js";
import { freshStore } from "../helpers/aws.js";
import { driveRun } from "../helpers/drive.js";
import { jobTemplate, newRun, pipeline, runTask, taskState, trigger } from "../helpers/factories.js";
import { MemoryRunner } from "../helpers/memory-runner.js";
import { PUBLIC_URL, TEST_TOKEN_SECRET, testSystem } from "../helpers/system.js";
import { RECEIVER_TARGETS } from "../receivers/fixtures.js";
import { RECEIVER_SECRETS, type Receivers, startReceivers } from "../receivers/index.js";

let receivers: Receivers;
beforeAll(async () => {
  receivers = await startReceivers();
});
afterAll(() => receivers.close());

const EVENTS = ["run.started", "run.succeeded", "run.failed", "task.waiting", "task.failed"] as const;
function robots(on: readonly string[] = EVENTS): Notifier[] {
  const s = RECEIVER_SECRETS;
  return [
    { kind: "feishu", url: receivers.feishu.url, secret: s.feishuSecret, on: [...on] as Notifier["on"] },
    {
      kind: "dingtalk",
      url: receivers.dingtalk.url,
      secret: s.dingtalkSecret,
      on: [...on] as Notifier["on"],
    },
    { kind: "wecom", url: receivers.wecom.url, on: [...on] as Notifier["on"] },
    { kind: "slack", url: receivers.slack.url, on: [...on] as Notifier["on"] },
    { kind: "webhook", url: receivers.webhook.url, secret: s.webhookSecret, on: [...on] as Notifier["on"] },
  ];
}

/** A MemoryRunner whose Jobs succeed at once, or fail when their task is called "broken". */
function instantRunner() {
  const runner = new MemoryRunner();
  runner.onSubmit = (launch) =>
    runner.set(
      launch.jobName,
      launch.task === "broken" ? { state: "failed", message: "exited with code 1" } : { state: "succeeded" },
    );
  return runner;
}

async function systemWithRobots() {
  return testSystem({
    runner: instantRunner(),
    sender: createNotificationSender({ targets: RECEIVER_TARGETS }),
    commitStatus: createCommitStatusReporter({
      githubToken: RECEIVER_SECRETS.githubToken,
      githubApiUrl: receivers.github.origin,
    }),
  });
}

async function start(system: Awaited<ReturnType<typeof testSystem>>, run: Run) {
  await system.stores.runs.saveRun(run);
  await system.queue.send([{ runId: run.id, event: { type: "run.created" }, dedupKey: `created:${run.id}` }]);
}

const bodiesOf = (receiver: Receivers["feishu"]) => receiver.accepted.map((r) => r.body);

describe("notifications through the scheduler", () => {
  it("tell every robot, signed, about a run that waits for approval and continues when approved", async () => {
    receivers.reset();
    const system = await systemWithRobots();
    const p = pipeline({
      name: "ship-it",
      params: { REGISTRY_PASSWORD: "super-secret-value" },
      notify: robots(),
      stages: [
        { name: "build", tasks: [{ name: "image", job: "kaniko-build", params: { IMAGE: "reg/web" } }] },
        { name: "ship", tasks: [runTask("deploy", { approval: { approvers: ["alice", "bob"] } })] },
      ],
    });
    await start(
      system,
      newRun({ id: "nwait", pipeline: p, jobs: { "kaniko-build": jobTemplate() }, commitStatus: true }),
    );
    await driveRun(system, "nwait", { done: (r) => r.status === "waiting" && r.outbox.length === 0 });

    for (const robot of [
      receivers.feishu,
      receivers.dingtalk,
      receivers.wecom,
      receivers.slack,
      receivers.webhook,
    ]) {
      expect(robot.rejected).toEqual([]);
      expect(robot.accepted).toHaveLength(2); // run.started, task.waiting
      const waiting = robot.accepted[1]?.body ?? "";
      expect(waiting).toMatch(/alice/);
      expect(waiting).toMatch(/bob/);
      expect(waiting).toContain(`${PUBLIC_URL}/runs/nwait`);
      expect(waiting).toContain("ship-it");
    }

    const approved = await system.recorder.record("nwait", [
      { type: "approval.granted", task: "deploy", by: "alice" },
    ]);
    await system.queue.send([
      {
        runId: "nwait",
        event: { type: "reconcile" },
        observe: false,
        dedupKey: `owed:${approved.run.version}`,
      },
    ]);
    const done = await driveRun(system, "nwait", {
      done: (r) => r.status === "succeeded" && r.outbox.length === 0,
    });
    expect(done.deliveryFailures).toEqual([]);
    for (const robot of [
      receivers.feishu,
      receivers.dingtalk,
      receivers.wecom,
      receivers.slack,
      receivers.webhook,
    ]) {
      expect(robot.accepted).toHaveLength(3);
      expect(robot.accepted[2]?.body).toMatch(/succeeded/i);
    }
    const statuses = receivers.github.accepted.map(
      (r) => JSON.parse(r.body) as { state: string; context: string; target_url: string },
    );
    expect(statuses.map((s) => s.state)).toEqual(["pending", "success"]);
    expect(statuses[0]?.context).toBe("hookflow/ship-it");
    // The run's page with a grant to view that run, made with this hookflow's key: the console lets it in.
    const link = new URL(statuses[0]?.target_url ?? "");
    expect(`${link.origin}${link.pathname}`).toBe(`${PUBLIC_URL}/runs/nwait`);
    const grants = new ViewGrants(TEST_TOKEN_SECRET, system.clock, 7);
    expect(grants.check("nwait", link.searchParams.get("grant") ?? "").kind).toBe("valid");
    expect(grants.check("another", link.searchParams.get("grant") ?? "").kind).toBe("invalid");
    expect(receivers.github.accepted[0]?.path).toBe(`/repos/acme/web-app/statuses/${trigger().commit}`);
    const everything = receivers
      .all()
      .flatMap((r) => [...r.accepted, ...r.rejected].map((q) => q.body))
      .join("\n");
    expect(everything).not.toContain("super-secret-value");
    expect(everything).not.toContain("hunter2-secret");
  });

  it("sends once per (run, event, robot) when every message is delivered twice, with the failed task and its message", async () => {
    receivers.reset();
    const system = await systemWithRobots();
    const once = createSchedulerHandler(system);
    const twice = async (event: Parameters<typeof once>[0]) => {
      await Promise.all([once(event), once(event)]);
      return once(event);
    };
    const p = pipeline({
      name: "breaks",
      notify: robots(["run.failed", "task.failed"]),
      stages: [{ name: "s", tasks: [runTask("broken")] }],
    });
    await start(system, newRun({ id: "nonce", pipeline: p }));
    const run = await driveRun(system, "nonce", {
      handler: twice,
      done: (r) => r.status === "failed" && r.outbox.length === 0,
    });
    expect(run.message).toBe("task broken failed: exited with code 1");
    for (const robot of [
      receivers.feishu,
      receivers.dingtalk,
      receivers.wecom,
      receivers.slack,
      receivers.webhook,
    ]) {
      expect(robot.accepted).toHaveLength(2);
      expect(bodiesOf(robot).join()).toMatch(/exited with code 1/);
    }
  });

  it("retries a failing robot a bounded number of times, records the failure on the run, and never fails the pipeline", async () => {
    receivers.reset();
    receivers.webhook.failNext(10);
    const system = await systemWithRobots();
    const p = pipeline({
      name: "robot-down",
      notify: robots(["run.succeeded"]),
      stages: [{ name: "s", tasks: [runTask("fine")] }],
    });
    await start(system, newRun({ id: "ndown", pipeline: p }));
    const run = await driveRun(system, "ndown", {
      done: (r) => r.status === "succeeded" && r.outbox.length === 0,
    });
    expect(receivers.webhook.rejected).toHaveLength(3);
    expect(receivers.webhook.accepted).toHaveLength(0);
    expect(receivers.slack.accepted).toHaveLength(1);
    expect(run.deliveryFailures).toEqual([
      expect.objectContaining({ target: "webhook", error: expect.stringMatching(/500.*after 3 attempts/) }),
    ]);
  });
});

describe("rate limits", () => {
  it("space DingTalk's 20 messages a minute: the rest wait for the next window, none is dropped", async () => {
    receivers.reset();
    // Frozen at second 5 of the current minute (the robots check that signed timestamps are recent).
    let now = Math.floor(Date.now() / 60_000) * 60_000 + 5000;
    const clock = { now: () => new Date(now).toISOString() };
    const { client, table } = await freshStore();
    const { ledger, limiter } = dynamoStores({ client, table });
    const delivery = new NotificationDelivery({
      sender: createNotificationSender({ targets: RECEIVER_TARGETS, clock }),
      commitStatus: { enabledFor: () => false, report: async () => {} },
      ledger,
      limiter,
      rateLimits: RATE_LIMITS,
      clock,
      log: silentLogger,
      publicUrl: PUBLIC_URL,
      maxWaitSeconds: 0,
    });
    const dingtalk = robots(["run.succeeded"]).filter((n) => n.kind === "dingtalk");
    const runs = Array.from({ length: 25 }, (_, i) => {
      const run = newRun({ id: `rate${i}`, pipeline: pipeline({ name: "rated", notify: dingtalk }) });
      return transition(run, { type: "cancel.requested" }, clock.now()).run;
    });
    const effect = (run: Run) => ({
      type: "notify" as const,
      key: `notify:${run.id}:0:run.succeeded`,
      runId: run.id,
      event: "run.succeeded" as const,
    });
    const first = await Promise.all(runs.map((run) => delivery.deliver(run, effect(run))));
    expect(first.filter((r) => r === "deferred")).toHaveLength(5);
    expect(receivers.dingtalk.accepted).toHaveLength(20);
    expect(receivers.dingtalk.rejected).toHaveLength(0);

    now += 60_000;
    const deferred = runs.filter((_, i) => first[i] === "deferred");
    const second = await Promise.all(deferred.map((run) => delivery.deliver(run, effect(run))));
    expect(second.every((r) => r !== "deferred")).toBe(true);
    expect(receivers.dingtalk.accepted).toHaveLength(25);
    // Delivered ones are not sent again.
    await Promise.all(runs.map((run) => delivery.deliver(run, effect(run))));
    expect(receivers.dingtalk.accepted).toHaveLength(25);
  });

  it("waits briefly for Feishu's 5 a second rather than deferring", async () => {
    receivers.reset();
    const { client, table } = await freshStore();
    const stores = dynamoStores({ client, table });
    // The windows the limiter granted, counted where it decides: a send's own timestamp may fall a second later.
    const granted: string[] = [];
    const limiter: RateLimiter = {
      acquire: async (key, limit, now) => {
        const taken = await stores.limiter.acquire(key, limit, now);
        if (taken.ok) granted.push(now.slice(0, 19));
        return taken;
      },
    };
    const delivery = new NotificationDelivery({
      sender: createNotificationSender({ targets: RECEIVER_TARGETS }),
      commitStatus: { enabledFor: () => false, report: async () => {} },
      ledger: stores.ledger,
      limiter,
      rateLimits: RATE_LIMITS,
      clock: { now: () => new Date().toISOString() },
      log: silentLogger,
      publicUrl: PUBLIC_URL,
    });
    const feishu = robots(["run.succeeded"]).filter((n) => n.kind === "feishu");
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => {
        const run = transition(
          newRun({ id: `fs${i}`, pipeline: pipeline({ name: "fs", notify: feishu }) }),
          { type: "cancel.requested" },
          new Date().toISOString(),
        ).run;
        return delivery.deliver(run, {
          type: "notify",
          key: `notify:fs${i}:0:run.succeeded`,
          runId: run.id,
          event: "run.succeeded",
        });
      }),
    );
    expect(results.every((r) => r !== "deferred")).toBe(true);
    expect(receivers.feishu.accepted).toHaveLength(8);
    expect(granted).toHaveLength(8);
    const perSecond = new Map<string, number>();
    for (const second of granted) perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    // Eight messages, at most five a second: they waited into the next window instead of being deferred.
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(5);
    expect(perSecond.size).toBeGreaterThanOrEqual(2);
  });
});

describe("only changes are notified", () => {
  it("sends no second succeeded for a run that already succeeded, and a new one after a re-run", async () => {
    receivers.reset();
    const system = await systemWithRobots();
    const p = pipeline({
      name: "once",
      notify: robots(["run.succeeded"]),
      stages: [{ name: "s", tasks: [runTask("fine")] }],
    });
    await start(system, newRun({ id: "nchange", pipeline: p }));
    await driveRun(system, "nchange", { done: (r) => r.status === "succeeded" && r.outbox.length === 0 });
    await system.queue.send([{ runId: "nchange", event: { type: "reconcile" }, dedupKey: "again" }]);
    await driveRun(system, "nchange", { done: (r) => r.outbox.length === 0 });
    expect(receivers.slack.accepted).toHaveLength(1);
    const rerun = await system.recorder.record("nchange", [{ type: "rerun.requested" }]);
    await system.queue.send([
      {
        runId: "nchange",
        event: { type: "reconcile" },
        observe: false,
        dedupKey: `owed:${rerun.run.version}`,
      },
    ]);
    const done = await driveRun(system, "nchange", {
      done: (r) => r.status === "succeeded" && r.round === 1 && r.outbox.length === 0,
    });
    expect(taskState(done, "fine").attempt).toBe(2);
    expect(receivers.slack.accepted).toHaveLength(2);
  });
});
