import { PermanentError } from "../../core/errors.js";
import type { TaskLaunch } from "../../core/model/index.js";
import type { CollectedLog, JobObservation, JobRef, JobState, TaskRunner } from "../../core/ports.js";

interface Job {
  launch: TaskLaunch;
  observation: JobObservation;
  log: string;
  canceled: boolean;
}

/** The order a Job's state moves in; it never moves back. */
const PROGRESS: Record<JobState, number> = { missing: 0, pending: 1, running: 2, succeeded: 3, failed: 3 };
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A call the runner contract (TaskRunner in core/ports.ts) forbids: a bug in the caller, never a fault. */
export class RunnerContractViolation extends Error {
  override name = "RunnerContractViolation";
}

/**
 * A runner held in memory that enforces the runner contract (TaskRunner in core/ports.ts), as Woodpecker's dummy
 * backend does: what the contract allows behaves as on a real runner (a second submit creates nothing, an unknown
 * Job observes as "missing", a canceled one as deleted), and what it forbids throws RunnerContractViolation:
 * submitting a canceled attempt again, another launch under a Job name in use, a ref that names a Job of another
 * attempt. Only the test decides how a Job ends, and only forwards (pending → running → succeeded or failed). For
 * tests of the services, where the Kubernetes wire format is not the subject; test/integration/
 * runner-conformance.test.ts holds it to the same contract as the real runners.
 */
export class MemoryRunner implements TaskRunner {
  readonly jobs = new Map<string, Job>();
  submitCalls = 0;
  /** Called for each new Job, e.g. to finish it at once. */
  onSubmit?: (launch: TaskLaunch) => void;

  async submit(launch: TaskLaunch): Promise<void> {
    this.submitCalls++;
    if (!DNS_LABEL.test(launch.jobName))
      throw new PermanentError(`job name ${JSON.stringify(launch.jobName)} is not a DNS-1123 label`);
    const job = this.jobs.get(launch.jobName);
    if (job) {
      this.checkSameAttempt(job, launch, "submit");
      if (job.canceled)
        throw new RunnerContractViolation(`submit of ${launch.jobName} after it was canceled`);
      return;
    }
    this.jobs.set(launch.jobName, {
      launch,
      observation: { state: "pending" },
      log: `log of ${launch.jobName}\n`,
      canceled: false,
    });
    this.onSubmit?.(launch);
  }

  async observe(ref: JobRef): Promise<JobObservation> {
    const job = this.known(ref, "observe");
    return !job || job.canceled ? { state: "missing" } : { ...job.observation };
  }

  /** Like Kubernetes: an attempt that ran fails and keeps its log; one that never ran is deleted. */
  async stop(ref: JobRef): Promise<void> {
    const job = this.known(ref, "stop");
    if (!job || job.canceled) return;
    const { state } = job.observation;
    if (state === "pending") job.canceled = true;
    else if (state === "running") job.observation = { state: "failed", message: "stopped" };
  }

  /** Like Kubernetes: the Job is deleted (it observes as missing), and the name stays spent. */
  async cancel(ref: JobRef): Promise<void> {
    const job = this.known(ref, "cancel");
    if (job) job.canceled = true;
  }

  async logs(ref: JobRef, options?: { tail?: number }): Promise<string> {
    const job = this.known(ref, "logs");
    if (!job || job.canceled) return "";
    if (options?.tail === undefined) return job.log;
    const lines = job.log.split(/(?<=\n)/);
    return options.tail <= 0 ? "" : lines.slice(-options.tail).join("");
  }

  /** The Job's log as one container named after the task; gone once canceled (deleted, as on Kubernetes). */
  async collectLogs(ref: JobRef): Promise<CollectedLog> {
    const job = this.known(ref, "collectLogs");
    if (!job || job.canceled) return { state: "gone" };
    const { state } = job.observation;
    return {
      state: "found",
      ended: state === "succeeded" || state === "failed",
      containers: [{ name: ref.task, init: false, text: job.log, timestamps: false }],
    };
  }

  /** Sets how a Job will be observed from now on (and, optionally, its whole log). */
  set(jobName: string, observation: JobObservation, log?: string): void {
    const job = this.jobs.get(jobName);
    if (!job) throw new Error(`no Job ${jobName}`);
    if (job.canceled) throw new Error(`Job ${jobName} was canceled: it can no longer change`);
    const from = job.observation.state;
    const terminal = from === "succeeded" || from === "failed";
    if (observation.state === "missing" || PROGRESS[observation.state] < PROGRESS[from] || terminal)
      throw new Error(`Job ${jobName} cannot go from ${from} to ${observation.state}`);
    job.observation = observation;
    if (log !== undefined) job.log = log;
  }

  /** Appends to a running Job's log, as its task printing. */
  write(jobName: string, text: string): void {
    const job = this.jobs.get(jobName);
    if (!job) throw new Error(`no Job ${jobName}`);
    if (job.observation.state !== "running")
      throw new Error(`Job ${jobName} is ${job.observation.state}, not running`);
    job.log += text;
  }

  /** The launches of a task, in order of submission. */
  launchesOf(task: string): TaskLaunch[] {
    return [...this.jobs.values()].filter((j) => j.launch.task === task).map((j) => j.launch);
  }

  private known(ref: JobRef, call: string): Job | undefined {
    const job = this.jobs.get(ref.jobName);
    if (job) this.checkSameAttempt(job, ref, call);
    return job;
  }

  private checkSameAttempt(job: Job, ref: Omit<JobRef, "jobName"> & { jobName: string }, call: string) {
    const { runId, task, attempt } = job.launch;
    if (ref.runId !== runId || ref.task !== task || ref.attempt !== attempt)
      throw new RunnerContractViolation(
        `${call} of ${ref.jobName} as ${ref.runId}/${ref.task}#${ref.attempt}, ` +
          `but that Job is ${runId}/${task}#${attempt}`,
      );
  }
}
