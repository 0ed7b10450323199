import { scheduleKey, scheduleRunId } from "../engine/index.js";
import { type JobTemplate, latestDueMinute, type Pipeline, type Schedule } from "../model/index.js";
import type { Clock, DefinitionStore, DeliveryLedger, GitHostApis, Logger } from "../ports.js";
import { DefinitionCatalog } from "./catalog.js";
import { branchHead, cloneUrlOf, type WebUrls } from "./control.js";
import type { RunStarter } from "./start-runs.js";

export interface ScheduleDeps {
  definitions: Pick<DefinitionStore, "listPipelines" | "listJobs">;
  ledger: DeliveryLedger;
  starter: RunStarter;
  hosts: GitHostApis;
  webUrls: WebUrls;
  clock: Clock;
  log: Logger;
}

/** How far back a tick looks for a minute it missed (an outage longer than this skips the schedule's minutes). */
export const CATCH_UP_HOURS = 24;
/** How long a tick may hold a fire before another tick may take it over (it died between claim and run). */
const CLAIM_LEASE_SECONDS = 120;

export type Fired = { pipeline: string; schedule: string; minute: string; run: string };

/**
 * Starts the runs schedules owe, from the reconciler's per-minute tick (nothing runs between ticks). For each
 * schedule, the latest minute it was due since the pipeline was stored (at most CATCH_UP_HOURS back) is claimed
 * in the ledger under (pipeline, schedule, minute) with a conditional write before anything else: a repeated or
 * concurrent tick finds it claimed and asks no host. Then the branch's head is resolved through the host's API
 * and the run started under an id derived from the same three, so even a retry after a crash creates it once.
 * A failure releases the claim, and the next tick tries that minute again.
 */
export class ScheduleService {
  constructor(private readonly deps: ScheduleDeps) {}

  async tick(): Promise<Fired[]> {
    const now = this.deps.clock.now();
    const stored = await this.deps.definitions.listPipelines();
    const floorMs = Date.parse(now) - CATCH_UP_HOURS * 3_600_000;
    const due = stored.flatMap(({ value: pipeline, updatedAt }) =>
      (pipeline.schedules ?? []).flatMap((schedule) => {
        const since = new Date(Math.max(Date.parse(updatedAt), floorMs)).toISOString();
        const minute = latestDueMinute(schedule, now, since);
        return minute ? [{ pipeline, schedule, minute }] : [];
      }),
    );
    if (due.length === 0) return [];
    const jobs = new Map((await this.deps.definitions.listJobs()).map((j) => [j.value.name, j.value]));
    const fired: Fired[] = [];
    for (const { pipeline, schedule, minute } of due) {
      const run = await this.fire(pipeline, schedule, minute, jobs, now);
      if (run) fired.push(run);
    }
    return fired;
  }

  private async fire(
    pipeline: Pipeline,
    schedule: Schedule,
    minute: string,
    jobs: Map<string, JobTemplate>,
    now: string,
  ): Promise<Fired | undefined> {
    const key = scheduleKey(schedule);
    const claim = `schedule:${pipeline.name}:${key}:${minute}`;
    if (!(await this.deps.ledger.claim(claim, now, CLAIM_LEASE_SECONDS))) return undefined;
    const trigger = pipeline.triggers[0];
    try {
      if (!trigger) throw new Error("the pipeline has no trigger naming a repository");
      const head = await branchHead(this.deps.hosts, trigger.provider, trigger.repository, schedule.branch);
      const id = scheduleRunId(pipeline.name, key, minute);
      await this.deps.starter.start(
        [
          {
            id,
            pipeline,
            jobs: DefinitionCatalog.jobsOf(pipeline, jobs),
            trigger: {
              provider: trigger.provider,
              event: "schedule",
              repository: trigger.repository,
              cloneUrl: cloneUrlOf(trigger.provider, trigger.repository, this.deps.webUrls),
              ref: `refs/heads/${schedule.branch}`,
              branch: schedule.branch,
              commit: head.commit,
              message: head.message,
              author: head.author,
            },
          },
        ],
        { kind: "scheduler" },
      );
      await this.deps.ledger.complete(claim, now);
      return { pipeline: pipeline.name, schedule: schedule.cron, minute, run: id };
    } catch (error) {
      await this.deps.ledger.release(claim);
      this.deps.log.warn("schedule not started; the next tick tries again", {
        pipeline: pipeline.name,
        schedule: schedule.cron,
        minute,
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  }
}
