import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalRunner, type LocalRunner } from "../../core/adapters/local-runner.js";
import { silentLogger } from "../../core/adapters/system.js";
import type { Run } from "../../core/model/index.js";
import type { Logger } from "../../core/ports.js";
import { reportLocalEnds } from "../../core/wiring.js";
import { driveRun } from "../helpers/drive.js";
import { newRun, pipeline, taskState } from "../helpers/factories.js";
import { testSystem } from "../helpers/system.js";
import { waitFor } from "../helpers/wait.js";

/**
 * The local runner reports its tasks' ends itself, through the relay's report path, the relay as the actor. The
 * reconciler ticks once at the start and never again, and no follow-up wake-ups are configured, so a task that
 * never calls back (`true`, `false`) is seen to end only through those reports.
 */

const NEVER = 1e9;
type System = Awaited<ReturnType<typeof testSystem>>;
interface Command {
  runId: string;
  commands: string[];
  actor: { kind: string };
  outcome: string;
}

let dataDir: string;
let runner: LocalRunner;
let system: System;
const commands: Command[] = [];
const log: Logger = {
  ...silentLogger,
  info: (message, fields) => {
    if (message === "run command") commands.push(fields as unknown as Command);
  },
};

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "hookflow-local-relay-"));
  runner = createLocalRunner({ dataDir, killGraceSeconds: 1 });
  system = await testSystem({ runner, log });
  reportLocalEnds(system, runner);
});

afterAll(async () => {
  await runner.stopAll();
  await rm(dataDir, { recursive: true, force: true });
});

const task = (name: string, command: string[]) => ({ name, run: { image: "alpine", command } });
/** A task that waits for the test to create `gate`, then does `then` (a task that never calls back). */
const gated = (gate: string, then: string) => [
  "sh",
  "-c",
  `while [ ! -e "${gate}" ]; do sleep 0.02; done; ${then}`,
];

/**
 * Starts a two-stage run and drives it until `build` is submitted; from then on nothing handles the work queue while a
 * gate is open, so only the runner's own report can tell the run that a task ended.
 */
async function start(id: string, build: string[], deploy: string[]): Promise<void> {
  const definition = pipeline({
    name: "local-relay",
    stages: [
      { name: "build", tasks: [task("build", build)] },
      { name: "deploy", tasks: [task("deploy", deploy)] },
    ],
  });
  await system.stores.runs.saveRun(newRun({ id, pipeline: definition }));
  await system.queue.send([{ runId: id, event: { type: "run.created" }, dedupKey: `created:${id}` }]);
  await driveRun(system, id, {
    reconcileEveryMs: NEVER,
    done: (r) => Boolean(taskState(r, "build").submittedAt),
    timeoutMs: 20_000,
  });
}

/** Waits for the stored run, without handling any message. */
const stored = (id: string, done: (run: Run) => boolean, what: string) =>
  waitFor(async () => system.stores.runs.getRun(id), {
    until: (run) => run !== undefined && done(run),
    what,
  }) as Promise<Run>;

/**
 * The commands on the run after its creation, each with its actor, once `count` are logged (a command is logged
 * after its run is stored): every one is a report, since nothing else looked at the run meanwhile.
 */
const logged = (id: string, count: number) =>
  waitFor(
    () =>
      commands
        .filter((c) => c.runId === id && !c.commands.includes("run.created"))
        .map((c) => [c.commands, c.outcome, c.actor.kind]),
    { until: (found) => found.length >= count, what: `${count} commands logged on run ${id}` },
  );

describe("the local runner's own reports of its tasks' ends", () => {
  it("carry a run of tasks that never call back through both stages, outputs included", async () => {
    const id = "localok";
    await start(
      id,
      gated(join(dataDir, "ok-1"), "true"),
      gated(join(dataDir, "ok-2"), 'echo OUT=1 > "$HOOKFLOW_TERMINATION_LOG"'),
    );
    await writeFile(join(dataDir, "ok-1"), "");
    await stored(id, (r) => taskState(r, "build").status === "succeeded", "build seen to succeed");
    // The next stage is submitted through the work queue, as always.
    await driveRun(system, id, {
      reconcileEveryMs: NEVER,
      done: (r) => Boolean(taskState(r, "deploy").submittedAt),
      timeoutMs: 20_000,
    });
    await writeFile(join(dataDir, "ok-2"), "");
    const done = await stored(id, (r) => r.status === "succeeded", "the run to succeed");
    expect(taskState(done, "deploy").outputs).toEqual({ OUT: "1" });
    expect(await logged(id, 2)).toEqual([
      [["task.succeeded"], "accepted", "relay"],
      [["task.succeeded"], "accepted", "relay"],
    ]);
  });

  it("report a failure with its exit code, and the run fails without the next stage", async () => {
    const id = "localbad";
    await start(id, gated(join(dataDir, "bad-1"), "exit 3"), ["true"]);
    await writeFile(join(dataDir, "bad-1"), "");
    const done = await stored(id, (r) => r.status === "failed", "the run to fail");
    expect(taskState(done, "build")).toMatchObject({ status: "failed", message: "exited with code 3" });
    expect(taskState(done, "deploy").submittedAt).toBeUndefined();
    expect(await logged(id, 1)).toEqual([[["task.failed"], "accepted", "relay"]]);
  });
});
