import { scheduleKey, scheduleRunId } from "../engine/index.js";
import { latestDueMinute } from "../model/cron.js";
import type { JobTemplate, Pipeline, Provider, Schedule } from "../model/index.js";
import type {
  BranchHead,
  Clock,
  DefinitionStore,
  DeliveryLedger,
  GitHostApis,
  Logger,
  RecordedSchedule,
  RepositoryScheduleStore,
  RepositoryStore,
} from "../ports.js";
import { DefinitionCatalog, repositoryKey } from "./catalog.js";
import { branchHead, cloneUrlOf, type WebUrls } from "./control.js";
import type { RepositoryPipelines } from "./repository-pipelines.js";
import type { RunStarter } from "./start-runs.js";

export interface ScheduleDeps {
  definitions: Pick<DefinitionStore, "listPipelines" | "listJobs">;
  ledger: DeliveryLedger;
  starter: RunStarter;
  hosts: GitHostApis;
  webUrls: WebUrls;
  clock: Clock;
  log: Logger;
  /** Schedules of repositories' files, recorded as pushes were read; without them, only the API's pipelines'. */
  repositorySchedules?: Pick<RepositoryScheduleStore, "list" | "remove">;
  repositories?: Pick<RepositoryStore, "list">;
  repositoryPipelines?: Pick<RepositoryPipelines, "at">;
}

/** How far back a tick looks for a minute it missed (an outage longer than this skips the schedule's minutes). */
export const CATCH_UP_HOURS = 24;
/** How long a tick may hold a fire before another tick may take it over (it died between claim and run). */
const CLAIM_LEASE_SECONDS = 120;

export type Fired = { pipeline: string; schedule: string; minute: string; run: string };

/** A schedule owing a run for `minute`: an API pipeline's, or one recorded from a repository's file. */
type Due =
  | { kind: "api"; pipeline: Pipeline; schedule: Schedule; minute: string }
  | { kind: "repository"; record: RecordedSchedule; minute: string };

/**
 * Starts the runs schedules owe, from the reconciler's per-minute tick (nothing runs between ticks). For each
 * schedule, the latest minute it was due since the pipeline was stored (at most CATCH_UP_HOURS back) is claimed
 * in the ledger under (pipeline, schedule, minute) with a conditional write before anything else: a repeated or
 * concurrent tick finds it claimed and asks no host. Then the branch's head is resolved through the host's API
 * and the run started under an id derived from the same three, so even a retry after a crash creates it once.
 * A failure releases the claim, and the next tick tries that minute again.
 *
 * Schedules in repositories' files are known from the records pushes left (RepositoryScheduleStore), so a tick
 * asks no host for a repository whose schedules are not due. When one is due and claimed, the file at the
 * branch's head decides: the run starts only if the schedule is still there, with the pipeline as that commit
 * defines it; a schedule gone from it (or a branch gone, a repository disabled) loses its record.
 */
export class ScheduleService {
  constructor(private readonly deps: ScheduleDeps) {}

  async tick(): Promise<Fired[]> {
    const now = this.deps.clock.now();
    const floorMs = Date.parse(now) - CATCH_UP_HOURS * 3_600_000;
    const since = (at: string) => new Date(Math.max(Date.parse(at), floorMs)).toISOString();
    const [stored, recorded] = await Promise.all([
      this.deps.definitions.listPipelines(),
      this.deps.repositorySchedules?.list() ?? [],
    ]);
    const due: Due[] = [
      ...stored.flatMap(({ value: pipeline, updatedAt }) =>
        (pipeline.schedules ?? []).flatMap((schedule) => {
          const minute = latestDueMinute(schedule, now, since(updatedAt));
          return minute ? [{ kind: "api" as const, pipeline, schedule, minute }] : [];
        }),
      ),
      ...recorded.flatMap((record) => {
        const minute = latestDueMinute(record.schedule, now, since(record.recordedAt));
        return minute ? [{ kind: "repository" as const, record, minute }] : [];
      }),
    ];
    if (due.length === 0) return [];
    const jobs = new Map((await this.deps.definitions.listJobs()).map((j) => [j.value.name, j.value]));
    const enabled = due.some((d) => d.kind === "repository")
      ? new Set(
          ((await this.deps.repositories?.list()) ?? []).map((r) => repositoryKey(r.provider, r.repository)),
        )
      : new Set<string>();
    const fired: Fired[] = [];
    for (const d of due) {
      const run =
        d.kind === "api"
          ? await this.fire(d.pipeline.name, d.schedule, d.minute, now, (id) => this.startApi(id, d, jobs))
          : await this.fire(d.record.pipeline, d.record.schedule, d.minute, now, (id) =>
              this.startFromRepository(id, d.record, jobs, enabled),
            );
      if (run) fired.push(run);
    }
    return fired;
  }

  /**
   * Claims (pipeline, schedule, minute), then starts the run under the id derived from the same three; `start`
   * says whether there was a run to start. The claim is completed either way, and released on a failure.
   */
  private async fire(
    name: string,
    schedule: Schedule,
    minute: string,
    now: string,
    start: (id: string) => Promise<boolean>,
  ): Promise<Fired | undefined> {
    const key = scheduleKey(schedule);
    const claim = `schedule:${name}:${key}:${minute}`;
    if (!(await this.deps.ledger.claim(claim, now, CLAIM_LEASE_SECONDS))) return undefined;
    try {
      const id = scheduleRunId(name, key, minute);
      const started = await start(id);
      await this.deps.ledger.complete(claim, now);
      return started ? { pipeline: name, schedule: schedule.cron, minute, run: id } : undefined;
    } catch (error) {
      await this.deps.ledger.release(claim);
      this.deps.log.warn("schedule not started; the next tick tries again", {
        pipeline: name,
        schedule: schedule.cron,
        minute,
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  }

  private async startApi(
    id: string,
    due: Extract<Due, { kind: "api" }>,
    jobs: Map<string, JobTemplate>,
  ): Promise<boolean> {
    const trigger = due.pipeline.triggers[0];
    if (!trigger) throw new Error("the pipeline has no trigger naming a repository");
    const { provider, repository } = trigger;
    const head = await branchHead(this.deps.hosts, provider, repository, due.schedule.branch);
    await this.start(id, due.pipeline, { provider, repository, branch: due.schedule.branch, head }, jobs);
    return true;
  }

  /** The file at the branch's head decides whether the recorded schedule still fires, and what it runs. */
  private async startFromRepository(
    id: string,
    record: RecordedSchedule,
    jobs: Map<string, JobTemplate>,
    enabled: ReadonlySet<string>,
  ): Promise<boolean> {
    const { provider, repository, branch } = record;
    const forget = async (why: string) => {
      await this.deps.repositorySchedules?.remove(record);
      this.deps.log.info("repository schedule forgotten", { pipeline: record.pipeline, branch, why });
      return false;
    };
    if (!enabled.has(repositoryKey(provider, repository))) return forget("the repository is not enabled");
    const api = this.deps.hosts[provider];
    const head = api && (await api.branchHead(repository, branch));
    if (api && !head) return forget(`${provider} has no branch ${branch} in ${repository}`);
    const resolved = head ?? (await branchHead(this.deps.hosts, provider, repository, branch));
    const definitions = await this.deps.repositoryPipelines?.at(provider, repository, resolved.commit, jobs);
    const found = definitions?.pipelines.find(
      (p) =>
        p.pipeline.name === record.pipeline &&
        (p.pipeline.schedules ?? []).some((s) => scheduleKey(s) === record.key),
    );
    if (!found) return forget(`the schedule is not in the file at ${branch}'s head ${resolved.commit}`);
    await this.start(id, found.pipeline, { provider, repository, branch, head: resolved }, jobs);
    return true;
  }

  private async start(
    id: string,
    pipeline: Pipeline,
    at: { provider: Provider; repository: string; branch: string; head: BranchHead },
    jobs: Map<string, JobTemplate>,
  ): Promise<void> {
    const { provider, repository, branch, head } = at;
    await this.deps.starter.start(
      [
        {
          id,
          pipeline,
          jobs: DefinitionCatalog.jobsOf(pipeline, jobs),
          trigger: {
            provider,
            event: "schedule",
            repository,
            cloneUrl: cloneUrlOf(provider, repository, this.deps.webUrls),
            ref: `refs/heads/${branch}`,
            branch,
            commit: head.commit,
            message: head.message,
            author: head.author,
          },
        },
      ],
      { kind: "scheduler" },
    );
  }
}
