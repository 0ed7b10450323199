import type { TaskLaunch } from "../../core/model/index.js";
import type { CollectedLog, JobObservation, JobRef, TaskRunner } from "../../core/ports.js";

interface Job {
  launch: TaskLaunch;
  observation: JobObservation;
  canceled: boolean;
}

/**
 * A runner held in memory that enforces the runner contract: a second submit of the same Job name creates
 * nothing, observing an unknown Job says "missing", and only the test decides how a Job ends. For tests of the
 * services, where the Kubernetes wire format is not the subject (the Kubernetes runner has its own tests).
 */
export class MemoryRunner implements TaskRunner {
  readonly jobs = new Map<string, Job>();
  submitCalls = 0;
  /** Called for each new Job, e.g. to finish it at once. */
  onSubmit?: (launch: TaskLaunch) => void;

  async submit(launch: TaskLaunch): Promise<void> {
    this.submitCalls++;
    if (this.jobs.has(launch.jobName)) return;
    this.jobs.set(launch.jobName, { launch, observation: { state: "pending" }, canceled: false });
    this.onSubmit?.(launch);
  }

  async observe(ref: JobRef): Promise<JobObservation> {
    return this.jobs.get(ref.jobName)?.observation ?? { state: "missing" };
  }

  async cancel(ref: JobRef): Promise<void> {
    const job = this.jobs.get(ref.jobName);
    if (job) job.canceled = true;
    this.jobs.delete(ref.jobName);
  }

  async logs(ref: JobRef): Promise<string> {
    return this.jobs.has(ref.jobName) ? `log of ${ref.jobName}\n` : "";
  }

  async collectLogs(ref: JobRef): Promise<CollectedLog> {
    const job = this.jobs.get(ref.jobName);
    if (!job) return { state: "gone" };
    const { state } = job.observation;
    return {
      state: "found",
      ended: state === "succeeded" || state === "failed",
      containers: [{ name: ref.task, init: false, text: `log of ${ref.jobName}\n`, timestamps: false }],
    };
  }

  /** Sets how a Job will be observed from now on. */
  set(jobName: string, observation: JobObservation): void {
    const job = this.jobs.get(jobName);
    if (!job) throw new Error(`no Job ${jobName}`);
    job.observation = observation;
  }

  /** The launches of a task, in order of submission. */
  launchesOf(task: string): TaskLaunch[] {
    return [...this.jobs.values()].filter((j) => j.launch.task === task).map((j) => j.launch);
  }
}
