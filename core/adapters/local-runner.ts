/**
 * Runs task attempts as processes on this host, for `npm start` on a laptop: the image is ignored and the
 * command runs directly (argv, never a shell line). Each attempt is started detached, in its own process group,
 * under a small wrapper that outlives the control plane and records how the task ended; its state lives in
 * `<dataDir>/jobs/<jobName>/` (see local-runner/state.ts), so a restarted control plane observes the real outcome.
 *
 * Contract (TaskRunner): submit is safe to call twice (the job directory marks the attempt as submitted);
 * observe never reports success without an exit status the wrapper wrote; cancel stops the process group and
 * keeps the attempt's files, so it then observes as failed "canceled" and its logs stay readable.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, open, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { $ZodError } from "zod/v4/core";
import { PermanentError, RetryableError } from "../errors.js";
import { DEFAULT_ARCHIVED_LOG_MAX_BYTES, lastLines, type TaskLaunch } from "../model/index.js";
import type { Clock, CollectedLog, JobObservation, JobRef, TaskRunner } from "../ports.js";
import { checkEnv, commandOf } from "./local-runner/command.js";
import {
  ExitRecord,
  isJobName,
  isWrapperAlive,
  JOB_FILES,
  JobSpec,
  jobDirOf,
  jobsDirOf,
  readPid,
  readRecord,
  readText,
  type StopReason,
  StopRecord,
  signalGroup,
  writeAtomic,
  writeOnce,
} from "./local-runner/state.js";
import { WRAPPER_SOURCE, type WrapperInput, wrapperFileName } from "./local-runner/wrapper.js";
import { systemClock } from "./system.js";

export interface LocalRunnerOptions {
  /** Where attempts keep their state; the same directory after a restart finds them again. */
  dataDir: string;
  /** A task's log is cut to its newer part beyond this many bytes (default 10 MiB, at least 1 KiB). */
  maxLogBytes?: number;
  /** Stamps submissions and judges stored deadlines. */
  clock?: Clock;
  /** Between SIGTERM and SIGKILL when a task is canceled or over its deadline (default 5). */
  killGraceSeconds?: number;
}

/** A task's end, as the runner saw it: the attempt its job runs and how it ended (the relay's report). */
export interface EndedTask {
  jobName: string;
  runId: string;
  task: string;
  attempt: number;
  observation: JobObservation & { state: "succeeded" | "failed" };
}

export interface LocalRunner extends TaskRunner {
  /**
   * Reports each task this process started at the moment its wrapper exits, observed exactly as `observe` does:
   * the local counterpart of the Kubernetes relay, handed to the same report path (the relay's), so that a task
   * that never calls back is not seen to end only at the next follow-up. Tasks a previous control plane started
   * are still seen by follow-ups and the reconciler. A report that fails is logged by whoever reports.
   */
  reportEnds(report: (ended: EndedTask) => Promise<void>): void;
  /**
   * Stops every task still running under dataDir, including ones a previous control plane started, and
   * resolves when they are gone; they then observe as failed. For tests and deliberate shutdowns: a control
   * plane that merely restarts should leave tasks running, since they survive it.
   */
  stopAll(): Promise<void>;
}

const DEFAULT_MAX_LOG_BYTES = 10 * 1024 * 1024;
const DEFAULT_KILL_GRACE_SECONDS = 5;
/** How long a submitted attempt may be without a pid before it counts as never started. */
const START_GRACE_MS = 30_000;
/** Kubernetes' FallbackToLogsOnError takes the log's last 80 lines, at most 2048 bytes. */
const FALLBACK_LOG_LINES = 80;
const FALLBACK_LOG_BYTES = 2048;
/**
 * Far above the 4 KiB of outputs a task may report, so that an oversized message reaches the engine, which
 * names the problem, instead of being cut here; the bound only protects memory from a runaway task.
 */
const TERMINATION_MESSAGE_MAX_BYTES = 64 * 1024;
/** The part of the control plane's environment a task sees: nothing that could hold its secrets. */
const BASE_ENV_NAMES = ["PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ"];
const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

export function createLocalRunner(options: LocalRunnerOptions): LocalRunner {
  const dataDir = resolve(options.dataDir);
  const clock = options.clock ?? systemClock;
  const maxLogBytes = options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES;
  const archivedLogMaxBytes = DEFAULT_ARCHIVED_LOG_MAX_BYTES;
  const killGraceSeconds = options.killGraceSeconds ?? DEFAULT_KILL_GRACE_SECONDS;
  if (!Number.isInteger(maxLogBytes) || maxLogBytes < 1024)
    throw new Error(`maxLogBytes must be an integer of at least 1024, not ${maxLogBytes}`);
  if (!(killGraceSeconds >= 0))
    throw new Error(`killGraceSeconds must be 0 or more, not ${killGraceSeconds}`);

  const nowMs = () => Date.parse(clock.now());
  let reportEnd: ((ended: EndedTask) => Promise<void>) | undefined;
  const fileOf = (jobName: string, file: keyof typeof JOB_FILES) =>
    join(jobDirOf(dataDir, jobName), JOB_FILES[file]);

  /** The wrapper's file, written when missing (a new data directory, or a new wrapper text). */
  async function wrapper(): Promise<string> {
    const path = join(dataDir, wrapperFileName());
    if (!(await exists(path))) await writeAtomic(path, WRAPPER_SOURCE);
    return path;
  }

  /**
   * Asks the task's group to stop, recording why first. Only a task that may still run gets a reason: one that
   * ended or vanished keeps the story it has. Without a pid yet, the reason keeps the wrapper from starting it.
   */
  async function stop(jobName: string, reason: StopReason): Promise<number | undefined> {
    if (await exists(fileOf(jobName, "exit"))) return undefined;
    const jobDir = jobDirOf(dataDir, jobName);
    const pid = await readPid(jobDir);
    const alive = pid !== undefined && (await isWrapperAlive(pid, jobDir));
    if (pid !== undefined && !alive) return undefined;
    await writeOnce(fileOf(jobName, "stop"), JSON.stringify({ reason, at: clock.now() }));
    if (pid === undefined) return undefined;
    signalGroup(pid, "SIGTERM");
    // The wrapper forces the end after the grace period itself; this covers a wrapper that cannot.
    setTimeout(
      () => void forceIfAlive(pid, jobDir).catch(() => undefined),
      (killGraceSeconds + 2) * 1000,
    ).unref();
    return pid;
  }

  async function outcome(jobName: string, spec: JobSpec): Promise<JobObservation> {
    const recorded = await recordedOutcome(jobName, spec);
    if (recorded) return recorded;
    const jobDir = jobDirOf(dataDir, jobName);
    const pid = await readPid(jobDir);
    if (pid === undefined)
      return nowMs() - Date.parse(spec.submittedAt) < START_GRACE_MS
        ? { state: "pending" }
        : failed("the process never started");
    if (await isWrapperAlive(pid, jobDir)) {
      if (nowMs() < Date.parse(spec.deadline)) return { state: "running" };
      // The wrapper's own timer missed it (a laptop that slept, a clock that moved): the stored deadline holds.
      await stop(jobName, "deadline");
      return (await recordedOutcome(jobName, spec)) ?? failed(deadlineMessage(spec));
    }
    // It may have ended between the reads above; without any record it vanished (a reboot, a SIGKILL).
    return (await recordedOutcome(jobName, spec)) ?? failed("the process disappeared");
  }

  async function recordedOutcome(jobName: string, spec: JobSpec): Promise<JobObservation | undefined> {
    const stopped = await readRecord(fileOf(jobName, "stop"), StopRecord);
    if (stopped) return failed(stopMessage(stopped.reason, spec));
    const exit = await readRecord(fileOf(jobName, "exit"), ExitRecord);
    return exit && exitObservation(exit);
  }

  /** The termination log; on failure with none, the log's tail, as FallbackToLogsOnError does. */
  async function terminationMessage(jobName: string, state: JobObservation["state"]) {
    const message = await readHead(fileOf(jobName, "terminationLog"), TERMINATION_MESSAGE_MAX_BYTES);
    if (message || state !== "failed") return message || undefined;
    const tail = lastLines(await readTail(fileOf(jobName, "log"), FALLBACK_LOG_BYTES), FALLBACK_LOG_LINES);
    return tail || undefined;
  }

  /** Tells the reporter how a task whose wrapper exited ended, read as `observe` reads it (exit.json, stop.json). */
  async function ended(launch: TaskLaunch): Promise<void> {
    if (!reportEnd) return;
    const ref = { runId: launch.runId, task: launch.task, attempt: launch.attempt, jobName: launch.jobName };
    const observation = await runner.observe(ref).catch(() => undefined);
    if (observation?.state !== "succeeded" && observation?.state !== "failed") return;
    await reportEnd({ ...ref, observation: { ...observation, state: observation.state } }).catch(
      () => undefined,
    );
  }

  const runner: LocalRunner = {
    reportEnds(report) {
      reportEnd = report;
    },

    async submit(launch: TaskLaunch): Promise<void> {
      const { jobName } = launch;
      if (!isJobName(jobName))
        throw new PermanentError(`job name ${JSON.stringify(jobName)} is not a DNS-1123 label`);
      if (!Number.isInteger(launch.timeoutSeconds) || launch.timeoutSeconds < 1)
        throw new PermanentError(
          `timeoutSeconds must be a whole number of at least 1, not ${launch.timeoutSeconds}`,
        );
      const command = commandOf(launch);
      const jobDir = jobDirOf(dataDir, jobName);
      // Deterministic names: an attempt that has a directory was submitted already.
      if (await exists(jobDir)) return;

      const cwd =
        command.workingDir && isAbsolute(command.workingDir) && (await isDirectory(command.workingDir))
          ? command.workingDir
          : join(jobDir, JOB_FILES.work);
      const env: Record<string, string> = {
        ...baseEnv(),
        ...command.env,
        ...launch.env,
        ...launch.secretEnv,
        HOOKFLOW_TERMINATION_LOG: join(jobDir, JOB_FILES.terminationLog),
      };
      checkEnv(env);
      const submittedAt = clock.now();
      const spec: JobSpec = {
        jobName,
        runId: launch.runId,
        task: launch.task,
        attempt: launch.attempt,
        argv: command.argv,
        cwd,
        envNames: Object.keys(launch.env),
        secretEnvNames: Object.keys(launch.secretEnv),
        timeoutSeconds: launch.timeoutSeconds,
        submittedAt,
        deadline: new Date(Date.parse(submittedAt) + launch.timeoutSeconds * 1000).toISOString(),
      };

      // The directory appears whole, spec included, or not at all; of two racing submits one rename wins.
      const jobsDir = jobsDirOf(dataDir);
      await mkdir(jobsDir, { recursive: true, mode: 0o700 });
      const staging = await mkdtemp(join(jobsDir, `.staging-${jobName}-`));
      try {
        await writeFile(join(staging, JOB_FILES.spec), `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600 });
        // Present from the start, like /dev/termination-log, for tasks that append to it.
        await writeFile(join(staging, JOB_FILES.terminationLog), "", { mode: 0o600 });
        if (cwd === join(jobDir, JOB_FILES.work)) await mkdir(join(staging, JOB_FILES.work));
        await rename(staging, jobDir);
      } catch (error) {
        await rm(staging, { recursive: true, force: true });
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOTEMPTY" || code === "EEXIST") return;
        throw new RetryableError(
          `could not record local job ${jobName}: ${(error as Error).message}`,
          undefined,
          {
            cause: error,
          },
        );
      }

      const input: WrapperInput = {
        argv: command.argv,
        cwd,
        env,
        timeoutSeconds: launch.timeoutSeconds,
        killGraceSeconds,
        maxLogBytes,
      };
      const child = spawn(process.execPath, [await wrapper(), jobDir], {
        cwd: jobDir,
        detached: true,
        stdio: ["pipe", "ignore", "ignore"],
        // Not the control plane's environment: NODE_OPTIONS and the like must not reach the wrapper.
        env: { PATH: process.env.PATH ?? DEFAULT_PATH },
      });
      child.on("error", () => undefined);
      if (child.pid === undefined) {
        // Nothing ran: free the name so that a retry of this submit can start it.
        await rm(jobDir, { recursive: true, force: true });
        throw new RetryableError(`could not start the local runner's wrapper for ${jobName}`);
      }
      child.stdin?.on("error", () => undefined);
      // The wrapper exits once it has written how the task ended (exit.json), or has died trying.
      child.once("exit", () => void ended(launch));
      child.stdin?.end(JSON.stringify(input));
      await writeAtomic(join(jobDir, JOB_FILES.pid), String(child.pid));
      child.unref();
    },

    async observe(ref: JobRef): Promise<JobObservation> {
      if (!isJobName(ref.jobName)) return { state: "missing" };
      return guarded(ref.jobName, async () => {
        const spec = await readRecord(fileOf(ref.jobName, "spec"), JobSpec);
        if (!spec) return { state: "missing" };
        const observed = await outcome(ref.jobName, spec);
        if (observed.state !== "succeeded" && observed.state !== "failed") return observed;
        const message = await terminationMessage(ref.jobName, observed.state);
        return message === undefined ? observed : { ...observed, terminationMessage: message };
      });
    },

    /** The process group is stopped and the attempt's files kept: the same as cancel, which keeps them too. */
    stop(ref: JobRef): Promise<void> {
      return this.cancel(ref);
    },

    async cancel(ref: JobRef): Promise<void> {
      // Gone or never here: nothing to stop.
      if (!isJobName(ref.jobName) || !(await exists(fileOf(ref.jobName, "spec")))) return;
      await stop(ref.jobName, "canceled");
    },

    /** One container, named after the task. */
    async logs(ref: JobRef, options?: { tail?: number; container?: string }): Promise<string> {
      if (!isJobName(ref.jobName) || (options?.container ?? ref.task) !== ref.task) return "";
      const text = (await readText(fileOf(ref.jobName, "log"))) ?? "";
      return options?.tail === undefined ? text : lastLines(text, options.tail);
    },

    /** One container (the process's output), no line times: the wrapper does not record them. */
    async collectLogs(ref: JobRef): Promise<CollectedLog> {
      if (!isJobName(ref.jobName)) return { state: "gone" };
      // An unreadable spec is a job directory as good as gone: nothing there can say how the log ends.
      const spec = await readRecord(fileOf(ref.jobName, "spec"), JobSpec).catch(() => undefined);
      if (!spec) return { state: "gone" };
      const observed = await outcome(ref.jobName, spec);
      const { text, cut } = await readNewest(fileOf(ref.jobName, "log"), archivedLogMaxBytes);
      return {
        state: "found",
        ended: observed.state === "succeeded" || observed.state === "failed",
        containers: [{ name: ref.task, init: false, text, timestamps: false, ...(cut && { cut }) }],
      };
    },

    async stopAll(): Promise<void> {
      const names = await readdir(jobsDirOf(dataDir)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return [] as string[];
        throw error;
      });
      const stopping: Array<{ pid: number; jobDir: string }> = [];
      for (const name of names.filter(isJobName)) {
        const pid = await stop(name, "stopped");
        if (pid !== undefined) stopping.push({ pid, jobDir: jobDirOf(dataDir, name) });
      }
      const giveUpAt = Date.now() + (killGraceSeconds + 2) * 1000;
      let alive = stopping;
      while (alive.length > 0 && Date.now() < giveUpAt) {
        await sleep(50);
        alive = (await Promise.all(alive.map(async (job) => ((await isAlive(job)) ? [job] : [])))).flat();
      }
      for (const job of alive) await forceIfAlive(job.pid, job.jobDir);
    },
  };
  return runner;
}

/** The newest `maxBytes` of a file, from the start of a line; the whole file when it is that small. */
async function readNewest(path: string, maxBytes: number): Promise<{ text: string; cut: boolean }> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { text: "", cut: false };
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const text = buffer.toString("utf8");
    return size <= maxBytes ? { text, cut: false } : { text: text.slice(text.indexOf("\n") + 1), cut: true };
  } finally {
    await handle.close();
  }
}

const isAlive = (job: { pid: number; jobDir: string }) => isWrapperAlive(job.pid, job.jobDir);

async function forceIfAlive(pid: number, jobDir: string): Promise<void> {
  if (await isWrapperAlive(pid, jobDir)) signalGroup(pid, "SIGKILL");
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH };
  for (const name of BASE_ENV_NAMES) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

const failed = (message: string): JobObservation => ({ state: "failed", message });

const deadlineMessage = (spec: JobSpec) => `exceeded its deadline of ${spec.timeoutSeconds}s`;

function stopMessage(reason: StopReason, spec: JobSpec): string {
  switch (reason) {
    case "deadline":
      return deadlineMessage(spec);
    case "canceled":
      return "canceled";
    case "stopped":
      return "stopped when the local runner shut down";
  }
}

function exitObservation(exit: ExitRecord): JobObservation {
  if (exit.error !== undefined) return failed(exit.error);
  if (exit.signal) return failed(`killed by ${exit.signal}`);
  if (exit.code === 0) return { state: "succeeded" };
  if (typeof exit.code === "number") return failed(`exited with code ${exit.code}`);
  return failed("ended without an exit status");
}

/** Unreadable state is a fact about the attempt (failed); a failing disk is worth another try. */
async function guarded(jobName: string, observe: () => Promise<JobObservation>): Promise<JobObservation> {
  try {
    return await observe();
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof $ZodError)
      return failed(`the local state of ${jobName} is unreadable: ${(error as Error).message}`);
    throw new RetryableError(`could not read local job ${jobName}: ${(error as Error).message}`, undefined, {
      cause: error,
    });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** The first `maxBytes` of a file, "" when it does not exist. */
async function readHead(path: string, maxBytes: number): Promise<string> {
  const file = await open(path, "r").catch(ignoreMissing);
  if (!file) return "";
  try {
    const buffer = Buffer.alloc(maxBytes);
    const { bytesRead } = await file.read(buffer, 0, maxBytes, 0);
    return buffer.subarray(0, bytesRead).toString("utf8");
  } finally {
    await file.close();
  }
}

/** The last `maxBytes` of a file from a line start, "" when it does not exist. */
async function readTail(path: string, maxBytes: number): Promise<string> {
  const file = await open(path, "r").catch(ignoreMissing);
  if (!file) return "";
  try {
    const { size } = await file.stat();
    const start = Math.max(0, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, start);
    let tail = buffer.subarray(0, bytesRead);
    const newline = tail.indexOf(10);
    // A cut start would begin mid-line, perhaps mid-character.
    if (start > 0 && newline >= 0 && newline < tail.length - 1) tail = tail.subarray(newline + 1);
    return tail.toString("utf8");
  } finally {
    await file.close();
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): undefined {
  if (error.code === "ENOENT") return undefined;
  throw error;
}
