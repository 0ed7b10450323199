import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOB_FILES, type JobSpec } from "../../core/adapters/local-runner/state.js";
import { createLocalRunner, type LocalRunner } from "../../core/adapters/local-runner.js";
import { PermanentError } from "../../core/errors.js";
import type { TaskLaunch } from "../../core/model/index.js";
import type { JobObservation, JobRef } from "../../core/ports.js";
import { waitFor } from "../helpers/wait.js";

let dataDir: string;
let scratch: string;
let runner: LocalRunner;
const others: LocalRunner[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "hookflow-local-runner-"));
  scratch = await realpath(await mkdtemp(join(tmpdir(), "hookflow-local-scratch-")));
  runner = createLocalRunner({ dataDir, killGraceSeconds: 1 });
});

afterAll(async () => {
  await Promise.all([runner, ...others].map((r) => r.stopAll()));
  await rm(dataDir, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
});

let launches = 0;
/** A `run` launch with its own job name, so that tests never share an attempt. */
function runLaunch(command: string[], overrides: Partial<TaskLaunch> = {}): TaskLaunch {
  launches += 1;
  return {
    runId: "r1",
    pipeline: "web-app",
    task: "unit",
    attempt: launches,
    jobName: `hf-unit-${launches}`,
    timeoutSeconds: 60,
    env: {},
    secretEnv: {},
    source: { kind: "run", image: "node:22", command },
    ...overrides,
  };
}

function jobLaunch(containers: Array<Record<string, unknown>>): TaskLaunch {
  const manifest = { apiVersion: "batch/v1", kind: "Job", spec: { template: { spec: { containers } } } };
  return runLaunch([], { source: { kind: "job", template: "build", manifest } });
}

const refOf = (launch: TaskLaunch): JobRef => ({
  runId: launch.runId,
  task: launch.task,
  attempt: launch.attempt,
  jobName: launch.jobName,
});

const isTerminal = (observed: JobObservation) =>
  observed.state === "succeeded" || observed.state === "failed";

/** Observes the attempt until it is terminal (or in `state`). */
function until(
  ref: JobRef,
  state: JobObservation["state"] | "terminal" = "terminal",
  by: LocalRunner = runner,
): Promise<JobObservation> {
  return waitFor(() => by.observe(ref), {
    until: (observed) => (state === "terminal" ? isTerminal(observed) : observed.state === state),
    what: `${ref.jobName} to be ${state}`,
    timeoutMs: 30_000,
  });
}

async function run(launch: TaskLaunch): Promise<JobObservation> {
  await runner.submit(launch);
  return until(refOf(launch));
}

/** Alive, not merely a zombie waiting for whichever init adopted it to reap it. */
const processExists = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== "linux") return true;
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

async function untilGone(pid: number): Promise<void> {
  await waitFor(() => !processExists(pid), { what: `process ${pid} to end`, timeoutMs: 30_000 });
}

/** The pid a task wrote to `file` (the shell's `$$`), once it is there. */
async function pidIn(file: string): Promise<number> {
  const text = await waitFor(() => readFile(file, "utf8").catch(() => ""), {
    until: (t) => t.trim() !== "",
    what: `a pid in ${file}`,
  });
  return Number(text);
}

/** A command that waits for `gate` to exist before doing `then`: the test, not a timer, decides when it ends. */
function gated(gate: string, then: string): string[] {
  return ["sh", "-c", `while [ ! -e "${gate}" ]; do sleep 0.05; done; ${then}`];
}

describe("local runner: outcomes", () => {
  it("reports success with the KEY=VALUE outputs written to $HOOKFLOW_TERMINATION_LOG", async () => {
    const launch = runLaunch([
      "sh",
      "-c",
      'echo building; printf "IMAGE=registry.local/web:1\\nDIGEST=sha256:abc\\n" > "$HOOKFLOW_TERMINATION_LOG"',
    ]);
    const observed = await run(launch);
    expect(observed).toEqual({
      state: "succeeded",
      terminationMessage: "IMAGE=registry.local/web:1\nDIGEST=sha256:abc\n",
    });
    expect(await runner.logs(refOf(launch))).toBe("building\n");
  });

  it("reports a failure's exit code, with the log's tail as termination message", async () => {
    const launch = runLaunch(["sh", "-c", "echo compiling; echo 'error: boom' >&2; exit 3"]);
    const observed = await run(launch);
    expect(observed.state).toBe("failed");
    expect(observed.message).toBe("exited with code 3");
    expect(observed.terminationMessage).toBe("compiling\nerror: boom\n");
  });

  it("reports a command that cannot be started", async () => {
    const observed = await run(runLaunch(["hookflow-no-such-command-xyz"]));
    expect(observed).toMatchObject({
      state: "failed",
      message: expect.stringMatching(/could not start.*not found/),
    });
  });

  it("gives the task launch.env and secretEnv, but not the control plane's environment", async () => {
    process.env.HOOKFLOW_API_TOKEN = "control-plane-token";
    try {
      const launch = runLaunch(["env"], {
        env: { GIT_BRANCH: "main", HOOKFLOW_TASK: "unit" },
        secretEnv: { DB_PASSWORD: "s3cret-value" },
      });
      expect((await run(launch)).state).toBe("succeeded");
      const lines = (await runner.logs(refOf(launch))).split("\n");
      expect(lines).toEqual(
        expect.arrayContaining(["GIT_BRANCH=main", "HOOKFLOW_TASK=unit", "DB_PASSWORD=s3cret-value"]),
      );
      expect(lines.some((line) => line.startsWith("PATH="))).toBe(true);
      expect(lines.some((line) => line.startsWith("HOOKFLOW_TERMINATION_LOG="))).toBe(true);
      expect(lines.some((line) => line.startsWith("HOOKFLOW_API_TOKEN="))).toBe(false);
      // Secrets reach the process through the wrapper's stdin, never the job's files.
      const spec = await readFile(join(dataDir, "jobs", launch.jobName, JOB_FILES.spec), "utf8");
      expect(spec).toContain("DB_PASSWORD");
      expect(spec).not.toContain("s3cret-value");
    } finally {
      delete process.env.HOOKFLOW_API_TOKEN;
    }
  });

  it("answers missing, empty logs and a harmless cancel for an attempt never submitted", async () => {
    const ref = refOf(runLaunch(["true"]));
    expect(await runner.observe(ref)).toEqual({ state: "missing" });
    expect(await runner.logs(ref)).toBe("");
    await expect(runner.cancel(ref)).resolves.toBeUndefined();
    expect(await runner.observe({ ...ref, jobName: "../../etc" })).toEqual({ state: "missing" });
  });
});

describe("local runner: submit", () => {
  it("runs an attempt once, however often and concurrently it is submitted", async () => {
    const marker = join(scratch, "ran-once");
    const command = ["sh", "-c", 'echo ran >> "$1"', "sh"];
    const launch = runLaunch(command, { source: { kind: "run", image: "alpine", command, args: [marker] } });
    await Promise.all([runner.submit(launch), runner.submit(launch), runner.submit(launch)]);
    expect((await until(refOf(launch))).state).toBe("succeeded");
    // A submit that started anything would have written a new pid before resolving: the attempt is untouched.
    const pidFile = join(dataDir, "jobs", launch.jobName, JOB_FILES.pid);
    const pid = await readFile(pidFile, "utf8");
    await runner.submit(launch);
    expect(await readFile(pidFile, "utf8")).toBe(pid);
    expect((await runner.observe(refOf(launch))).state).toBe("succeeded");
    expect(await readFile(marker, "utf8")).toBe("ran\n");
  });

  it("refuses a job name that is not a DNS label", async () => {
    await expect(runner.submit(runLaunch(["true"], { jobName: "../escape" }))).rejects.toBeInstanceOf(
      PermanentError,
    );
  });

  it("passes branch names and commit messages as data, never as shell code", async () => {
    const pwned = join(scratch, "pwned");
    const branch = `x$(touch ${pwned})`;
    const message = `fix \`touch ${pwned}-backtick\` and $(touch ${pwned}-dollar)`;
    const command = ["sh", "-c", 'echo "$GIT_BRANCH"; echo "$GIT_COMMIT_MESSAGE"; echo "$1"', "sh"];
    const launch = runLaunch(command, {
      env: { GIT_BRANCH: branch, GIT_COMMIT_MESSAGE: message },
      source: { kind: "run", image: "alpine", command, args: [branch] },
    });
    expect((await run(launch)).state).toBe("succeeded");
    expect(await runner.logs(refOf(launch))).toBe(`${branch}\n${message}\n${branch}\n`);
    const template = jobLaunch([{ name: "main", command: ["echo"], args: [branch, message] }]);
    expect((await run(template)).state).toBe("succeeded");
    expect(await runner.logs(refOf(template))).toBe(`${branch} ${message}\n`);
    for (const file of [pwned, `${pwned}-backtick`, `${pwned}-dollar`]) expect(existsSync(file)).toBe(false);
  });
});

describe("local runner: job templates", () => {
  it("runs the first container's command and args, with its literal env", async () => {
    const launch = jobLaunch([
      {
        name: "build",
        image: "gcr.io/kaniko-project/executor",
        command: ["sh", "-c"],
        args: ['echo "template $GREETING $FROM_LAUNCH"; pwd'],
        workingDir: "/hookflow-does-not-exist/workspace",
        env: [
          { name: "GREETING", value: "hello" },
          { name: "FROM_SECRET", valueFrom: { secretKeyRef: {} } },
        ],
      },
      { name: "sidecar", command: ["sh", "-c", "echo sidecar"] },
    ]);
    launch.env = { FROM_LAUNCH: "world" };
    expect((await run(launch)).state).toBe("succeeded");
    const workDir = join(resolve(dataDir), "jobs", launch.jobName, JOB_FILES.work);
    expect(await runner.logs(refOf(launch))).toBe(`template hello world\n${await realpath(workDir)}\n`);
  });

  it("uses the container's workingDir when it exists on this host", async () => {
    const launch = jobLaunch([{ name: "main", command: ["pwd"], workingDir: scratch }]);
    expect((await run(launch)).state).toBe("succeeded");
    expect(await runner.logs(refOf(launch))).toBe(`${scratch}\n`);
  });

  it("refuses a container without a command, and records nothing", async () => {
    const launch = jobLaunch([{ name: "main", image: "alpine", args: ["echo"] }]);
    const submitted = runner.submit(launch);
    await expect(submitted).rejects.toBeInstanceOf(PermanentError);
    await expect(submitted).rejects.toThrow(/local runner needs a command/);
    expect(await runner.observe(refOf(launch))).toEqual({ state: "missing" });
  });
});

describe("local runner: stopping", () => {
  it("kills the process group at the deadline and reports it", async () => {
    const pidFile = join(scratch, "deadline-pid");
    const launch = runLaunch(["sh", "-c", `echo $$ > "${pidFile}"; sleep 10 & wait`], { timeoutSeconds: 1 });
    await runner.submit(launch);
    const pid = await pidIn(pidFile);
    const observed = await until(refOf(launch));
    expect(observed).toMatchObject({ state: "failed", message: "exceeded its deadline of 1s" });
    await untilGone(pid);
  });

  it("forces a task that ignores SIGTERM with SIGKILL after the grace period", async () => {
    const pidFile = join(scratch, "stubborn-pid");
    const launch = runLaunch(["sh", "-c", `trap '' TERM; echo $$ > "${pidFile}"; sleep 10`], {
      timeoutSeconds: 1,
    });
    await runner.submit(launch);
    const pid = await pidIn(pidFile);
    expect(await until(refOf(launch))).toMatchObject({
      state: "failed",
      message: "exceeded its deadline of 1s",
    });
    await untilGone(pid);
  });

  it("enforces a stored deadline in observe, as after a restart that missed it", async () => {
    const launch = runLaunch(["sleep", "10"], { timeoutSeconds: 30 });
    await runner.submit(launch);
    await until(refOf(launch), "running");
    const later = createLocalRunner({
      dataDir,
      clock: { now: () => new Date(Date.now() + 31_000).toISOString() },
    });
    others.push(later);
    expect(await later.observe(refOf(launch))).toMatchObject({
      state: "failed",
      message: "exceeded its deadline of 30s",
    });
    const pid = Number(await readFile(join(dataDir, "jobs", launch.jobName, JOB_FILES.pid), "utf8"));
    await untilGone(pid);
  });

  it("cancels a sleeping task: the process dies and the attempt observes as canceled", async () => {
    const pidFile = join(scratch, "cancel-pid");
    const launch = runLaunch(["sh", "-c", `echo $$ > "${pidFile}"; exec sleep 30`]);
    await runner.submit(launch);
    const pid = await pidIn(pidFile);
    await runner.cancel(refOf(launch));
    await untilGone(pid);
    expect(await until(refOf(launch))).toMatchObject({ state: "failed", message: "canceled" });
    await expect(runner.cancel(refOf(launch))).resolves.toBeUndefined();
    // A canceled attempt stays submitted: the same name never runs again.
    await runner.submit(launch);
    expect((await runner.observe(refOf(launch))).message).toBe("canceled");
  });
});

describe("local runner: logs", () => {
  it("returns the whole log or its last lines", async () => {
    const launch = runLaunch(["sh", "-c", "printf 'one\\ntwo\\nthree\\nfour\\n'"]);
    expect((await run(launch)).state).toBe("succeeded");
    const ref = refOf(launch);
    expect(await runner.logs(ref)).toBe("one\ntwo\nthree\nfour\n");
    expect(await runner.logs(ref, { tail: 2 })).toBe("three\nfour\n");
    expect(await runner.logs(ref, { tail: 10 })).toBe("one\ntwo\nthree\nfour\n");
    expect(await runner.logs(ref, { tail: 0 })).toBe("");
  });

  it("keeps the log under maxLogBytes, dropping the oldest output", async () => {
    const small = createLocalRunner({ dataDir, maxLogBytes: 4096 });
    others.push(small);
    const launch = runLaunch(["sh", "-c", 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done']);
    await small.submit(launch);
    expect((await until(refOf(launch), "terminal", small)).state).toBe("succeeded");
    const log = await small.logs(refOf(launch));
    expect(Buffer.byteLength(log)).toBeLessThanOrEqual(4096);
    expect(log).toMatch(/^\[hookflow: earlier output was cut\]\nline \d+\n/);
    expect(log.endsWith("line 1998\nline 1999\n")).toBe(true);
  });
});

describe("local runner: restarts", () => {
  it("lets a new runner on the same data directory observe a task the previous one started", async () => {
    const gate = join(scratch, "restart-gate");
    const launch = runLaunch(gated(gate, 'echo "DONE=yes" > "$HOOKFLOW_TERMINATION_LOG"'));
    let first: LocalRunner | undefined = createLocalRunner({ dataDir });
    await first.submit(launch);
    first = undefined;
    const second = createLocalRunner({ dataDir });
    others.push(second);
    expect((await until(refOf(launch), "running", second)).state).toBe("running");
    await writeFile(gate, "");
    expect(await until(refOf(launch), "terminal", second)).toEqual({
      state: "succeeded",
      terminationMessage: "DONE=yes\n",
    });
  });

  it("keeps a task running when its control plane is killed with SIGKILL", async () => {
    const gate = join(scratch, "survive-gate");
    const launch = runLaunch(gated(gate, "echo survived"));
    // .mts: the scratch directory has no package.json saying "module", and the script awaits at top level.
    const script = join(scratch, "control-plane.mts");
    const module = resolve("core/adapters/local-runner.ts");
    await writeFile(
      script,
      [
        `import { createLocalRunner } from ${JSON.stringify(module)};`,
        "const runner = createLocalRunner({ dataDir: process.argv[2] });",
        "await runner.submit(JSON.parse(process.argv[3]));",
        'process.stdout.write("submitted\\n");',
        "setInterval(() => undefined, 1000);",
      ].join("\n"),
    );
    // Node itself with tsx's loader, not the tsx CLI: the CLI runs the script in a child it would leave behind.
    const controlPlane = spawn(
      process.execPath,
      ["--import", "tsx", script, dataDir, JSON.stringify(launch)],
      {
        cwd: process.cwd(),
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const exited = once(controlPlane, "exit");
    const submitted = await Promise.race([
      once(controlPlane.stdout, "data").then(() => true),
      exited.then(() => false),
    ]);
    expect(submitted).toBe(true);
    expect((await runner.observe(refOf(launch))).state).toBe("running");
    controlPlane.kill("SIGKILL");
    await exited;
    expect((await runner.observe(refOf(launch))).state).toBe("running");
    await writeFile(gate, "");
    expect(await until(refOf(launch))).toEqual({ state: "succeeded" });
    expect(await runner.logs(refOf(launch))).toBe("survived\n");
  });

  it("reports a process that vanished without an exit status as failed, never succeeded", async () => {
    const launch = runLaunch(["true"]);
    const jobDir = join(dataDir, "jobs", launch.jobName);
    await mkdir(jobDir, { recursive: true });
    const spec: JobSpec = {
      jobName: launch.jobName,
      runId: launch.runId,
      task: launch.task,
      attempt: launch.attempt,
      argv: ["true"],
      cwd: jobDir,
      envNames: [],
      secretEnvNames: [],
      timeoutSeconds: 60,
      submittedAt: new Date().toISOString(),
      deadline: new Date(Date.now() + 60_000).toISOString(),
    };
    await writeFile(join(jobDir, JOB_FILES.spec), JSON.stringify(spec));
    await writeFile(join(jobDir, JOB_FILES.pid), "99999999");
    expect(await runner.observe(refOf(launch))).toMatchObject({
      state: "failed",
      message: "the process disappeared",
    });
  });

  it("reports a task whose whole process group was SIGKILLed (as by a reboot) as disappeared", async () => {
    const launch = runLaunch(["sleep", "10"]);
    await runner.submit(launch);
    await until(refOf(launch), "running");
    const pid = Number(await readFile(join(dataDir, "jobs", launch.jobName, JOB_FILES.pid), "utf8"));
    process.kill(-pid, "SIGKILL");
    await untilGone(pid);
    expect(await until(refOf(launch))).toMatchObject({ state: "failed", message: "the process disappeared" });
    expect((await stat(join(dataDir, "jobs", launch.jobName))).isDirectory()).toBe(true);
  });
});
