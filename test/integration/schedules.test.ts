import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scheduleKey, scheduleRunId } from "../../core/engine/index.js";
import { latestDueMinute } from "../../core/model/cron.js";
import { Pipeline, type Schedule } from "../../core/model/index.js";
import type { Clock } from "../../core/ports.js";
import { reconcilerDeps } from "../../core/wiring.js";
import { createReconcilerHandler } from "../../functions/reconciler.js";
import { createWebhookApp } from "../../functions/webhook.js";
import { FakeGitHosts } from "../fake-git-hosts/index.js";
import { pipeline, runTask } from "../helpers/factories.js";
import { testSystem } from "../helpers/system.js";
import { deliver, distinctBody, fixture } from "../helpers/webhooks.js";

/** A clock the test moves: the reconciler's tick is the only thing that reads it here. */
class TestClock implements Clock {
  constructor(public at: string) {}
  now() {
    return this.at;
  }
}

const gitHosts = new FakeGitHosts();
beforeAll(() => gitHosts.start());
afterAll(() => gitHosts.stop());

/** Parsed asynchronously, as every pipeline with schedules is: croner checks each cron, imported on first use. */
const nightly = (schedules: Schedule[], name = "nightly") =>
  Pipeline.parseAsync({
    ...pipeline({ name, triggers: [{ provider: "gitlab", repository: "acme/platform/web" }] }),
    schedules,
    stages: [{ name: "test", tasks: [runTask("unit", { when: { events: ["schedule"] } })] }],
  });

async function scheduledSystem(at: string) {
  const clock = new TestClock(at);
  const system = await testSystem({ gitHosts, clock });
  const deps = reconcilerDeps(system);
  return { system, clock, tick: createReconcilerHandler(deps), schedules: deps.schedules };
}

describe("schedules", () => {
  it("fire once per (pipeline, schedule, minute), whatever the number of ticks, building the branch's head", async () => {
    const sha = gitHosts.push("gitlab", "acme/platform/web", "main", {
      message: "nightly head",
      author: "Ada",
      files: {},
    });
    const { system, clock, tick } = await scheduledSystem("2026-12-01T18:00:00.000Z");
    const schedule = { cron: "0 3 * * *", branch: "main", timezone: "Asia/Shanghai" };
    await system.stores.definitions.putPipeline(await nightly([schedule]), clock.at);

    clock.at = "2026-12-01T18:59:10.000Z";
    expect(await tick()).toMatchObject({ scheduled: 0 });
    const hostCalls = gitHosts.count("gitlab");
    clock.at = "2026-12-01T19:00:05.000Z"; // 03:00 in Shanghai
    const ticks = await Promise.all([tick(), tick(), tick()]);
    expect(ticks.map((t) => t.scheduled).sort()).toEqual([0, 0, 1]);
    clock.at = "2026-12-01T19:01:02.000Z";
    expect(await tick()).toMatchObject({ scheduled: 0 });
    // Only the tick that claimed the minute asked the host.
    expect(gitHosts.count("gitlab") - hostCalls).toBe(1);

    const id = scheduleRunId("nightly", scheduleKey(schedule), "2026-12-01T19:00:00.000Z");
    const run = await system.stores.runs.getRun(id);
    expect(run?.trigger).toMatchObject({
      event: "schedule",
      provider: "gitlab",
      repository: "acme/platform/web",
      ref: "refs/heads/main",
      branch: "main",
      commit: sha,
    });
    expect((await system.stores.runs.listRuns({ limit: 10 })).items.map((r) => r.id)).toEqual([id]);
    expect(gitHosts.rejected).toEqual([]);
  });

  it("catch up a missed minute once after an outage, not once per missed minute", async () => {
    gitHosts.push("gitlab", "acme/platform/web", "main", { message: "head", author: "Ada", files: {} });
    const { system, clock, tick } = await scheduledSystem("2026-12-01T10:00:30.000Z");
    await system.stores.definitions.putPipeline(
      await nightly([{ cron: "*/5 * * * *", branch: "main" }]),
      clock.at,
    );
    clock.at = "2026-12-01T10:00:40.000Z";
    expect(await tick()).toMatchObject({ scheduled: 0 }); // 10:00 was before the pipeline was stored
    clock.at = "2026-12-01T10:27:00.000Z"; // ticks from 10:01 to 10:26 were lost
    expect(await tick()).toMatchObject({ scheduled: 1 });
    clock.at = "2026-12-01T10:28:00.000Z";
    expect(await tick()).toMatchObject({ scheduled: 0 });
    const runs = (await system.stores.runs.listRuns({ limit: 10 })).items;
    expect(runs).toHaveLength(1);
  });

  it("try a minute again on the next tick when the host fails, and start it once", async () => {
    gitHosts.push("gitlab", "acme/platform/web", "main", { message: "head", author: "Ada", files: {} });
    const { system, clock, tick } = await scheduledSystem("2026-12-01T11:00:00.000Z");
    await system.stores.definitions.putPipeline(
      await nightly([{ cron: "30 11 * * *", branch: "main" }]),
      clock.at,
    );
    gitHosts.fail("gitlab", 503);
    clock.at = "2026-12-01T11:30:01.000Z";
    expect(await tick()).toMatchObject({ scheduled: 0 });
    clock.at = "2026-12-01T11:31:01.000Z";
    expect(await tick()).toMatchObject({ scheduled: 1 });
    expect((await system.stores.runs.listRuns({ limit: 10 })).items).toHaveLength(1);
  });
});

/** A repository's pipeline with schedules for main and for develop, started by nothing else (tags only). */
const scheduledFile = (schedules: string) => `name: nightly
triggers: [{ events: [tag], tags: ["v*"] }]
${schedules}
stages:
  - name: test
    tasks: [{ name: unit, run: { image: alpine, command: ["true"] } }]
`;
const BOTH = `schedules:
  - { cron: "*/10 * * * *", branch: main }
  - { cron: "0 5 * * *", branch: develop }`;
const githubPush = fixture("github-push"); // acme/web-app, main

describe("schedules in a repository's files", () => {
  it("fire from the record a push left, once per minute, only while the file at the branch's head still has them", async () => {
    const { system, clock, tick } = await scheduledSystem("2026-12-01T10:01:00.000Z");
    const webhook = createWebhookApp(system.webhook);
    const pushCommit = async (marker: string, file: string) => {
      const sha = gitHosts.push("github", "acme/web-app", "main", {
        message: marker,
        author: "Ada",
        files: { ".hookflow.yaml": file },
      });
      const body = distinctBody(
        { ...githubPush, after: sha, head_commit: { ...(githubPush.head_commit as object), id: sha } },
        marker,
      );
      const res = await deliver(webhook, "github", body, { deliveryId: `d-${marker}`, event: "push" });
      expect(res.status).toBe(200); // no pipeline runs on a push: the file's only trigger is tags
      return sha;
    };
    await system.stores.repositories.enable("github", "acme/web-app", clock.at);
    const sha = await pushCommit("first", scheduledFile(BOTH));
    // main's file records main's schedule; develop's counts only in develop's own file.
    expect(
      (await system.stores.repositorySchedules.list()).map((r) => [r.pipeline, r.branch, r.schedule.cron]),
    ).toEqual([["acme/web-app/nightly", "main", "*/10 * * * *"]]);

    // Not due: no host is asked.
    const before = gitHosts.count("github");
    clock.at = "2026-12-01T10:05:00.000Z";
    expect(await tick()).toMatchObject({ scheduled: 0 });
    expect(gitHosts.count("github")).toBe(before);

    clock.at = "2026-12-01T10:10:04.000Z";
    const ticks = await Promise.all([tick(), tick(), tick()]);
    expect(ticks.map((t) => t.scheduled).sort()).toEqual([0, 0, 1]);
    const key = scheduleKey({ cron: "*/10 * * * *", branch: "main" });
    const id = scheduleRunId("acme/web-app/nightly", key, "2026-12-01T10:10:00.000Z");
    const run = await system.stores.runs.getRun(id);
    expect(run?.pipeline).toBe("acme/web-app/nightly");
    expect(run?.trigger).toMatchObject({
      event: "schedule",
      repository: "acme/web-app",
      branch: "main",
      commit: sha,
    });

    // The schedule leaves the file at main's head (no delivery reached hookflow): the next due minute starts
    // nothing, and the record is forgotten, so later ticks ask the host nothing.
    gitHosts.push("github", "acme/web-app", "main", {
      message: "no more nightly",
      author: "Ada",
      files: { ".hookflow.yaml": scheduledFile("") },
    });
    clock.at = "2026-12-01T10:20:03.000Z";
    expect(await tick()).toMatchObject({ scheduled: 0 });
    expect(await system.stores.repositorySchedules.list()).toEqual([]);
    const after = gitHosts.count("github");
    clock.at = "2026-12-01T10:30:03.000Z";
    expect(await tick()).toMatchObject({ scheduled: 0 });
    expect(gitHosts.count("github")).toBe(after);

    // Back in the file: after an outage, the latest missed minute fires once.
    clock.at = "2026-12-01T10:31:00.000Z";
    const back = await pushCommit("back", scheduledFile(BOTH));
    clock.at = "2026-12-01T11:15:30.000Z"; // ticks from 10:32 on were lost: 10:40, 10:50, 11:00, 11:10 missed
    expect(await tick()).toMatchObject({ scheduled: 1 });
    clock.at = "2026-12-01T11:16:30.000Z";
    expect(await tick()).toMatchObject({ scheduled: 0 });
    const late = await system.stores.runs.getRun(
      scheduleRunId("acme/web-app/nightly", key, "2026-12-01T11:10:00.000Z"),
    );
    expect(late?.trigger.commit).toBe(back);
    expect((await system.stores.runs.listRuns({ limit: 10 })).items).toHaveLength(2);
    expect(gitHosts.rejected).toEqual([]);
  });

  it("are forgotten once the repository is disabled", async () => {
    const { system, clock, tick } = await scheduledSystem("2026-12-01T12:00:00.000Z");
    await system.stores.repositorySchedules.replace(
      "github",
      "acme/web-app",
      "main",
      [{ pipeline: "acme/web-app/nightly", key: "k", schedule: { cron: "*/10 * * * *", branch: "main" } }],
      clock.at,
    );
    const before = gitHosts.count("github");
    clock.at = "2026-12-01T12:10:01.000Z";
    expect(await tick()).toMatchObject({ scheduled: 0 });
    expect(await system.stores.repositorySchedules.list()).toEqual([]);
    expect(gitHosts.count("github")).toBe(before);
  });
});

describe("a schedule's definition", () => {
  it.each([
    [{ cron: "61 * * * *", branch: "main" }, "schedules.0.cron", /minute: 61/],
    [{ cron: "0 3 * * * *", branch: "main" }, "schedules.0.cron", /five fields/],
    [
      { cron: "0 3 * * *", branch: "main", timezone: "Mars/Base" },
      "schedules.0.timezone",
      /unknown time zone/,
    ],
  ])("refuses %j at apply with its path", async (schedule, path, message) => {
    const result = await Pipeline.safeParseAsync({
      name: "p",
      triggers: [{ provider: "github", repository: "a/b" }],
      schedules: [schedule],
      stages: [{ name: "s", tasks: [runTask("t")] }],
    });
    expect(result.success).toBe(false);
    const issue = result.error?.issues.find((i) => i.path.join(".") === path);
    expect(issue?.message).toMatch(message);
  });

  it("needs a trigger naming the repository", async () => {
    const result = await Pipeline.safeParseAsync({
      name: "p",
      schedules: [{ cron: "0 3 * * *", branch: "main" }],
      stages: [{ name: "s", tasks: [runTask("t")] }],
    });
    expect(result.error?.issues.map((i) => i.path.join("."))).toEqual(["schedules"]);
  });

  it("reads the cron in its time zone, and a tick at hh:mm:00.000 counts its own minute", () => {
    const daily = { cron: "0 3 * * *", branch: "main", timezone: "Europe/Berlin" };
    expect(latestDueMinute(daily, "2026-07-01T01:00:00.000Z", "2026-06-30T00:00:00.000Z")).toBe(
      "2026-07-01T01:00:00.000Z",
    );
    expect(latestDueMinute(daily, "2026-07-01T00:59:59.999Z", "2026-07-01T00:00:00.000Z")).toBeUndefined();
  });
});
