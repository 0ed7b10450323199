import { type JobTemplate, type Pipeline, tasksOf } from "../model/index.js";
import type { Clock, DefinitionStore } from "../ports.js";

/**
 * Pipelines and job templates as the webhook reads them on every delivery: cached for a few seconds, so a push
 * costs no read in the common case. A definition changed through another process is seen within `ttlMs`; a
 * change through this process (the local stack serves the API too) is seen at once.
 */
export class DefinitionCatalog {
  private cached?: { at: number; pipelines: Pipeline[]; jobs: Map<string, JobTemplate> };

  constructor(
    private readonly store: DefinitionStore,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {}

  private nowMs(): number {
    return Date.parse(this.clock.now());
  }

  async snapshot(): Promise<{ pipelines: Pipeline[]; jobs: Map<string, JobTemplate> }> {
    if (this.cached && this.nowMs() - this.cached.at < this.ttlMs) return this.cached;
    const [pipelines, jobs] = await Promise.all([this.store.listPipelines(), this.store.listJobs()]);
    this.cached = {
      at: this.nowMs(),
      pipelines: pipelines.map((p) => p.value),
      jobs: new Map(jobs.map((j) => [j.value.name, j.value])),
    };
    return this.cached;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  /** The templates a pipeline names, to be snapshotted with its run. */
  static jobsOf(pipeline: Pipeline, jobs: ReadonlyMap<string, JobTemplate>): Record<string, JobTemplate> {
    const used: Record<string, JobTemplate> = {};
    for (const { task } of tasksOf(pipeline)) {
      const job = task.job === undefined ? undefined : jobs.get(task.job);
      if (job) used[job.name] = job;
    }
    return used;
  }
}
