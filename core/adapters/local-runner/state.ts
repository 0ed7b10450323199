/**
 * The local runner's files. Every task attempt owns `<dataDir>/jobs/<jobName>/`, so a new control plane on the
 * same data directory finds what the previous one started, and the task's wrapper records its own end there
 * even while no control plane runs.
 */
import { execFile } from "node:child_process";
import { link, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import * as z from "zod/mini";
import { schema } from "../../model/schema.js";

export const JOB_FILES = {
  /** What was started (JobSpec); written before the process starts, so it marks the attempt as submitted. */
  spec: "spec.json",
  /** The wrapper's pid, which is also the task's process group id. */
  pid: "pid",
  /** The task's stdout and stderr, interleaved, kept to its tail beyond maxLogBytes. */
  log: "log",
  /** How the task ended (ExitRecord), written by the wrapper. */
  exit: "exit.json",
  /** Why the task was stopped (StopRecord); the first reason written wins. */
  stop: "stop.json",
  /** `$HOOKFLOW_TERMINATION_LOG`: the stand-in for /dev/termination-log. */
  terminationLog: "termination-log",
  /** The working directory when the task names none that exists on this host. */
  work: "work",
} as const;

/**
 * The record of a started attempt. Environment values are left out on purpose: secrets never touch the disk,
 * and the wrapper receives the whole environment through its stdin.
 */
export const JobSpec = /* @__PURE__ */ schema(() =>
  z.object({
    jobName: z.string(),
    runId: z.string(),
    task: z.string(),
    attempt: z.int(),
    argv: z.array(z.string()).check(z.minLength(1)),
    cwd: z.string(),
    envNames: z.array(z.string()),
    secretEnvNames: z.array(z.string()),
    timeoutSeconds: z.int().check(z.positive()),
    submittedAt: z.string(),
    /** submittedAt + timeoutSeconds, on the runner's clock; observe() enforces it after a restart. */
    deadline: z.string(),
  }),
);
export type JobSpec = z.infer<typeof JobSpec>;

export const ExitRecord = /* @__PURE__ */ schema(() =>
  z.object({
    code: z.optional(z.nullable(z.int())),
    signal: z.optional(z.nullable(z.string())),
    /** The task never ran: its command could not be started, or it was stopped first. */
    error: z.optional(z.string()),
    at: z.string(),
  }),
);
export type ExitRecord = z.infer<typeof ExitRecord>;

export const StopReason = /* @__PURE__ */ schema(() => z.enum(["canceled", "deadline", "stopped"]));
export type StopReason = z.infer<typeof StopReason>;
export const StopRecord = /* @__PURE__ */ schema(() => z.object({ reason: StopReason, at: z.string() }));
export type StopRecord = z.infer<typeof StopRecord>;

/** A DNS-1123 label, as jobNameFor makes them; anything else could climb out of the jobs directory. */
const JOB_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const isJobName = (name: string) => JOB_NAME.test(name);

export const jobsDirOf = (dataDir: string) => join(dataDir, "jobs");
export const jobDirOf = (dataDir: string, jobName: string) => join(jobsDirOf(dataDir), jobName);

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === "ENOENT";

export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** A state file parsed with its schema; undefined when it does not exist. */
export async function readRecord<T>(path: string, schema: z.ZodMiniType<T>): Promise<T | undefined> {
  const text = await readText(path);
  return text === undefined ? undefined : schema.parse(JSON.parse(text));
}

export async function readPid(jobDir: string): Promise<number | undefined> {
  const pid = Number((await readText(join(jobDir, JOB_FILES.pid)))?.trim());
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

/** Readers never see half a file: write aside, then rename over. */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const aside = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(aside, text, { mode: 0o600 });
  await rename(aside, path);
}

/** Creates `path` with `text` unless it exists; whole or not at all. Returns false when it already existed. */
export async function writeOnce(path: string, text: string): Promise<boolean> {
  const aside = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(aside, text, { mode: 0o600 });
  try {
    await link(aside, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await unlink(aside);
  }
}

const execFileText = promisify(execFile);

/**
 * Whether `pid` is still the wrapper of the job in `jobDir`. A pid alone is not enough: after a reboot the
 * number may belong to an unrelated process, which must be neither reported as the task nor killed.
 */
export async function isWrapperAlive(pid: number, jobDir: string): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: another user's process, so not a wrapper this user started.
    return false;
  }
  if (process.platform === "linux") {
    const cmdline = await readText(`/proc/${pid}/cmdline`).catch(() => undefined);
    return cmdline?.split("\0").includes(jobDir) ?? false;
  }
  try {
    const { stdout } = await execFileText("ps", ["-ww", "-p", String(pid), "-o", "command="]);
    return stdout.includes(jobDir);
  } catch {
    return false;
  }
}

/** Signals the task's whole process group; a group that is already gone is what was wanted. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}
