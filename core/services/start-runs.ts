import { createRun } from "../engine/index.js";
import type { Actor, JobTemplate, Pipeline, Run, TriggerContext } from "../model/index.js";
import type { Clock, CommitStatusReporter, DeliveryStore, Logger, WorkMessage, WorkQueue } from "../ports.js";

export interface RunRequest {
  id: string;
  pipeline: Pipeline;
  /** The job templates the pipeline uses, snapshotted with the run. */
  jobs: Record<string, JobTemplate>;
  trigger: TriggerContext;
  params?: Record<string, string>;
}

export interface RunStarterDeps {
  store: Pick<DeliveryStore, "createRuns">;
  queue: WorkQueue;
  clock: Clock;
  commitStatus: Pick<CommitStatusReporter, "enabledFor">;
  log: Logger;
}

/**
 * How a run comes to be, whoever starts it (a git host's delivery, a person through the API): built by the
 * engine, stored only if no run has its id, then queued as "run.created". Its commit status is reported when the
 * git host has a token and the commit is a full SHA.
 */
export class RunStarter {
  constructor(private readonly deps: RunStarterDeps) {}

  /** The runs as built, and per run whether it is new (false: a run with its id was stored before). */
  async start(requests: RunRequest[], actor: Actor): Promise<{ runs: Run[]; created: boolean[] }> {
    const now = this.deps.clock.now();
    const runs = requests.map((request) =>
      createRun({
        ...request,
        commitStatus:
          this.deps.commitStatus.enabledFor(request.trigger.provider) &&
          /^[0-9a-f]{40}$/.test(request.trigger.commit),
        now,
      }),
    );
    const created = await this.deps.store.createRuns(runs);
    // Queued for repeats too: applying "run.created" again changes nothing, and a lost first message is replaced.
    await this.deps.queue.send(runs.map((run) => createdMessage(run.id)));
    this.deps.log.info("runs started", { runs: runs.map((r) => r.id), created, actor });
    return { runs, created };
  }
}

export function createdMessage(runId: string): WorkMessage & { dedupKey: string } {
  return { runId, event: { type: "run.created" }, dedupKey: `created:${runId}` };
}
