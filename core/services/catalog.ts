import { type JobTemplate, type Pipeline, type Provider, tasksOf } from "../model/index.js";
import type { Clock, DefinitionStore, RepositoryStore } from "../ports.js";

export interface Snapshot {
  pipelines: Pipeline[];
  jobs: Map<string, JobTemplate>;
  /** `repositoryKey`s of the repositories enabled for pipelines in their files. */
  enabledRepositories: ReadonlySet<string>;
}

export const repositoryKey = (provider: Provider, repository: string) => `${provider}:${repository}`;

/**
 * Pipelines and job templates as the webhook reads them on every delivery: cached for a few seconds, so a push
 * costs no read in the common case. A definition changed through another process is seen within `ttlMs`; a
 * change through this process (the local stack serves the API too) is seen at once.
 */
export class DefinitionCatalog {
  private cached?: Snapshot & { at: number };

  constructor(
    private readonly store: DefinitionStore,
    private readonly ttlMs: number,
    private readonly clock: Clock,
    /** The repositories enabled for pipelines in their files, read with the definitions (none without it). */
    private readonly repositories?: Pick<RepositoryStore, "list">,
  ) {}

  private nowMs(): number {
    return Date.parse(this.clock.now());
  }

  async snapshot(): Promise<Snapshot> {
    if (this.cached && this.nowMs() - this.cached.at < this.ttlMs) return this.cached;
    const [pipelines, jobs, enabled] = await Promise.all([
      this.store.listPipelines(),
      this.store.listJobs(),
      this.repositories?.list() ?? [],
    ]);
    this.cached = {
      at: this.nowMs(),
      pipelines: pipelines.map((p) => p.value),
      jobs: new Map(jobs.map((j) => [j.value.name, j.value])),
      enabledRepositories: new Set(enabled.map((r) => repositoryKey(r.provider, r.repository))),
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
