import { describe, expect, it } from "vitest";
import type { RunView } from "../../core/engine/view.js";
import { cliStack, lines, startedId } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait.js";

describe("hookflow run, runs and status", () => {
  it("starts a run with params and a ref, printing its id and how to follow it", async () => {
    const { cli, system, applyFixtures } = await cliStack();
    await applyFixtures();
    const bad = await cli(["run", "hello", "--param", "GREETING=yo"]);
    expect(bad).toMatchObject({
      code: 1,
      stderr: "error: invalid params\nparams.GREETING: must be one of hello, hi\n",
    });
    expect((await cli(["run", "hello", "--param", "GREETING"])).code).toBe(2);
    expect(await cli(["run", "nope"])).toMatchObject({ code: 1, stderr: "error: no pipeline nope\n" });

    const res = await cli(["run", "hello", "--param", "WHO=world", "-p", "GREETING=hi", "--ref", "release"]);
    expect(res.code).toBe(0);
    const id = startedId(res.stdout);
    expect(id).not.toBe("");
    expect(res.stdout).toBe(
      `started run ${id} of hello on refs/heads/release\nfollow it: hookflow status ${id} --watch\n`,
    );
    expect((await system.stores.runs.getRun(id))?.params).toEqual({ WHO: "world", GREETING: "hi" });

    const runs = await cli(["runs", "--pipeline", "hello"]);
    expect(runs.code).toBe(0);
    expect(lines(runs.stdout)[0]).toMatch(/^ID\s+PIPELINE\s+STATUS\s+REF\s+CREATED\s+DURATION$/);
    expect(lines(runs.stdout)[1]).toMatch(new RegExp(`^${id}\\s+hello\\s+pending\\s+release\\s+\\d{4}-`));
    expect(lines((await cli(["runs", "--pipeline", "doomed"])).stderr)).toEqual(["no runs"]);

    const status = await cli(["status", id]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`run ${id} · pipeline hello · pending`);
    expect(lines(status.stdout)).toContainEqual(expect.stringMatching(/^ {2}deploy\s+pending\s+0\s+-$/));
  });

  it("follows a run with status --watch to success, through an approval (403 for a non-approver)", async () => {
    const { cli, start, applyFixtures, startRun, drive, aliceToken } = await cliStack();
    await applyFixtures();
    const id = await startRun("hello", "-p", "WHO=world");
    const watch = start(["status", id, "--watch"]);
    await drive(id, (r) => r.status === "waiting");
    await waitFor(() => watch.output.stdout.includes("ship/deploy waiting"), {
      what: "the watch to see the approval",
    });

    const stranger = await cli(["approve", id, "deploy", "--by", "mallory"], {
      HOOKFLOW_API_TOKEN: aliceToken,
    });
    expect(stranger).toMatchObject({
      code: 1,
      stderr: `error: "by" says mallory, but this request is alice's; leave "by" out\n`,
    });
    const approved = await cli(["approve", id, "deploy", "--comment", "ship it"], {
      HOOKFLOW_API_TOKEN: aliceToken,
    });
    expect(approved.code).toBe(0);
    expect(approved.stdout).toMatch(
      new RegExp(`^approved deploy as alice: run ${id} \\(hello\\) is \\w+\n$`),
    );
    expect((await drive(id)).status).toBe("succeeded");

    const watched = await watch.done;
    expect(watched.code).toBe(0);
    const seen = lines(watched.stdout);
    expect(seen).toContain("build/compile succeeded");
    expect(seen).toContain("ship/deploy waiting: awaiting approval by alice");
    expect(seen.at(-1)).toMatch(new RegExp(`^run ${id} \\(hello\\) succeeded in \\d`));
  });

  it("denies with a comment; runs filters by status and prints JSON", async () => {
    const { cli, applyFixtures, startRun, drive, aliceToken } = await cliStack();
    await applyFixtures();
    // A second run, so that a page of one has a next page; it stops at the same approval, failing nothing.
    await startRun("hello", "-p", "WHO=them");
    const id = await startRun("hello", "-p", "WHO=you");
    await drive(id, (r) => r.status === "waiting");
    const denied = await cli(["deny", id, "deploy", "--by", "alice", "--comment", "not today"], {
      HOOKFLOW_API_TOKEN: aliceToken,
    });
    expect(denied).toMatchObject({
      code: 0,
      stdout: `denied deploy as alice: run ${id} (hello) is failed\n`,
    });
    const status = await cli(["status", id]);
    expect(status.stdout).toContain("message task deploy failed: denied by alice: not today");
    const page = JSON.parse((await cli(["runs", "--status", "failed", "--json"])).stdout) as {
      items: RunView[];
    };
    expect(page.items.map((r) => r.id)).toEqual([id]);
    const limited = await cli(["runs", "--limit", "1"]);
    expect(lines(limited.stdout)).toHaveLength(2);
    expect(limited.stderr).toMatch(/^more: hookflow runs --limit 1 --cursor \S+\n$/);
  });
});

describe("hookflow logs", () => {
  it("prints a task's logs, the last lines with --tail", async () => {
    const { cli, applyFixtures, succeededHello } = await cliStack();
    await applyFixtures();
    const id = await succeededHello();
    expect(await cli(["logs", id, "compile", "--tail", "2"])).toMatchObject({
      code: 0,
      stdout: "line two\nline three\n",
    });
    expect((await cli(["logs", id, "greet"])).stdout).toBe("hi world\n");
    expect(await cli(["logs", id, "nope"])).toMatchObject({
      code: 1,
      stderr: `error: no task nope in run ${id}\n`,
    });
    expect((await cli(["logs", id, "compile", "--tail", "0"])).code).toBe(2);
  });

  it("exits 1 from --watch when the run fails, while logs --follow prints the output until the task ends", async () => {
    const { start, applyFixtures, startRun, drive } = await cliStack();
    await applyFixtures();
    const id = await startRun("doomed");
    const watch = start(["status", id, "--watch"]);
    const follow = start(["logs", id, "unit", "--follow"]);
    expect((await drive(id)).status).toBe("failed");
    const [watched, followed] = await Promise.all([watch.done, follow.done]);
    expect(watched.code).toBe(1);
    // The message is the runner's own (the local runner's: core/adapters/local-runner.ts), shown as it is.
    expect(lines(watched.stdout)).toContain("test/unit failed: exited with code 3");
    expect(watched.stdout).toMatch(
      new RegExp(`run ${id} \\(doomed\\) failed in .*: task unit failed: exited with code 3\n$`),
    );
    expect(followed).toMatchObject({ code: 0, stdout: "boom\nbang\n" });
  });
});

describe("hookflow rerun and cancel", () => {
  it("re-runs the failed tasks only, cancels, and refuses to cancel twice", async () => {
    const { cli, system, applyFixtures, failedDoomed } = await cliStack();
    await applyFixtures();
    const id = await failedDoomed();
    const rerun = await cli(["rerun", id, "--failed-only"]);
    expect(rerun.code).toBe(0);
    expect(lines(rerun.stdout)[0]).toBe(`rerun started (round 1): run ${id} (doomed) is running`);
    const cancel = await cli(["cancel", id], { HOOKFLOW_USER: "carol" });
    expect(cancel).toMatchObject({ code: 0, stdout: `cancel requested: run ${id} (doomed) is canceled\n` });
    expect((await system.stores.runs.getRun(id))?.message).toBe("canceled by bootstrap");
    expect(await cli(["cancel", id])).toMatchObject({ code: 1, stderr: "error: run is already canceled\n" });
    expect((await cli(["status", id, "--watch"])).code).toBe(1);
  });

  it("reruns one task with what follows it, cancels that task alone, and keeps every earlier attempt", async () => {
    const { cli, system, applyFixtures, failedDoomed } = await cliStack();
    await applyFixtures();
    const id = await failedDoomed();
    expect((await cli(["rerun", id, "--failed-only"])).code).toBe(0);
    expect((await cli(["cancel", id])).code).toBe(0);
    expect(await cli(["rerun", id, "--downstream"])).toMatchObject({
      code: 2,
      stderr: "error: --downstream needs --task\n",
    });
    const rerun = await cli(["rerun", id, "--task", "unit", "--downstream"]);
    expect(rerun.code).toBe(0);
    expect(lines(rerun.stdout)[0]).toBe(`rerun of unit started (round 2): run ${id} (doomed) is running`);
    expect(await cli(["cancel", id, "--task", "unit"])).toMatchObject({
      code: 0,
      stdout: `task unit canceled: run ${id} (doomed) is failed\n`,
    });
    expect(await cli(["cancel", id, "--task", "unit"])).toMatchObject({
      code: 1,
      stderr: "error: run is already failed\n",
    });
    const [unit, summary] = (await system.stores.runs.getRun(id))?.stages.flatMap((s) => s.tasks) ?? [];
    expect(unit).toMatchObject({ status: "canceled", attempt: 3, message: "canceled by bootstrap" });
    expect(summary).toMatchObject({ status: "skipped", reason: "UpstreamFailed" });
    expect(unit?.history?.map((h) => [h.attempt, h.round, h.status, h.message])).toEqual([
      [1, 0, "failed", "exited with code 3"],
      [2, 1, "canceled", "canceled by bootstrap"],
    ]);
  });
});
