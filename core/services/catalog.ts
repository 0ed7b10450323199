import { type JobTemplate, type Pipeline, type Provider, tasksOf } from "../model/index.js";
import type { Clock, DefinitionStore, RepositoryStore } from "../ports.js";

export interface Snapshot {
  pipelines: Pipeline[];
  /** `repositoryKey`s of the repositories enabled for pipelines in their files. */
  enabledRepositories: ReadonlySet<string>;
}

export const repositoryKey = (provider: Provider, repository: string) => `${provider}:${repository}`;

type Cached<T> = { value: T; at: number };

/**
 * Pipelines, job templates and enabled repositories as the webhook reads them on every delivery: cached for a few
 * seconds, so a push costs no read in the common case. A definition changed through another process is seen
 * within `ttlMs`; a change through this process (the local stack serves the API too) is seen at once.
 *
 * The job templates are read only when a delivery needs them (`jobs`): a pipeline that names one, or an enabled
 * repository's files. A cold process's delivery that needs none makes two reads side by side, not three (each
 * read side by side opens a connection of its own: a TLS handshake on AWS; docs/decisions.md, 6).
 */
export class DefinitionCatalog {
  private cached?: Cached<Snapshot>;
  private cachedJobs?: Cached<Map<string, JobTemplate>>;

  constructor(
    private readonly store: DefinitionStore,
    private readonly ttlMs: number,
    private readonly clock: Clock,
    /** The repositories enabled for pipelines in their files, read with the definitions (none without it). */
    private readonly repositories?: Pick<RepositoryStore, "list">,
  ) {}

  private fresh<T>(cached: Cached<T> | undefined): cached is Cached<T> {
    return cached !== undefined && Date.parse(this.clock.now()) - cached.at < this.ttlMs;
  }

  async snapshot(): Promise<Snapshot> {
    if (this.fresh(this.cached)) return this.cached.value;
    const [pipelines, enabled] = await Promise.all([
      this.store.listPipelines(),
      this.repositories?.list() ?? [],
    ]);
    this.cached = {
      at: Date.parse(this.clock.now()),
      value: {
        pipelines: pipelines.map((p) => p.value),
        enabledRepositories: new Set(enabled.map((r) => repositoryKey(r.provider, r.repository))),
      },
    };
    return this.cached.value;
  }

  /** Every job template by name. */
  async jobs(): Promise<ReadonlyMap<string, JobTemplate>> {
    if (this.fresh(this.cachedJobs)) return this.cachedJobs.value;
    const jobs = await this.store.listJobs();
    this.cachedJobs = {
      at: Date.parse(this.clock.now()),
      value: new Map(jobs.map((j) => [j.value.name, j.value])),
    };
    return this.cachedJobs.value;
  }

  invalidate(): void {
    this.cached = undefined;
    this.cachedJobs = undefined;
  }

  /** Whether a pipeline names a job template (so that starting it needs `jobs`). */
  static namesJobs(pipeline: Pipeline): boolean {
    return tasksOf(pipeline).some(({ task }) => task.job !== undefined);
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
