import { createRun } from "../engine/index.js";
import type { Actor, JobTemplate, Pipeline, Run, TriggerContext } from "../model/index.js";
import type {
  Clock,
  CommitStatusReporter,
  DeliveredBody,
  DeliveryStore,
  Logger,
  WorkMessage,
  WorkQueue,
} from "../ports.js";

export interface RunRequest {
  id: string;
  pipeline: Pipeline;
  /** The job templates the pipeline uses, snapshotted with the run. */
  jobs: Record<string, JobTemplate>;
  trigger: TriggerContext;
  params?: Record<string, string>;
}

export interface RunStarterDeps {
  store: Pick<DeliveryStore, "createRuns" | "createDeliveredRuns">;
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
    const runs = this.build(requests);
    return this.queueCreated(runs, await this.deps.store.createRuns(runs), actor);
  }

  /**
   * As `start`, for a git host's delivery whose body has this SHA-256: its runs only if the body is the delivery's
   * (`DeliveryStore.createDeliveredRuns`), else the delivery that holds it, and nothing started.
   */
  async startDelivered(
    requests: RunRequest[],
    actor: Extract<Actor, { kind: "gitHost" }>,
    sha256: string,
  ): Promise<{ runs: Run[]; created: boolean[] } | { heldBy: DeliveredBody }> {
    const runs = this.build(requests);
    const stored = await this.deps.store.createDeliveredRuns(runs, {
      provider: actor.provider,
      sha256,
      delivery: {
        id: actor.delivery,
        runs: runs.map((r) => ({ id: r.id, pipeline: r.pipeline })),
        receivedAt: this.deps.clock.now(),
      },
    });
    return "heldBy" in stored ? stored : this.queueCreated(runs, stored.created, actor);
  }

  private build(requests: RunRequest[]): Run[] {
    const now = this.deps.clock.now();
    return requests.map((request) =>
      createRun({
        ...request,
        commitStatus:
          this.deps.commitStatus.enabledFor(request.trigger.provider) &&
          /^[0-9a-f]{40}$/.test(request.trigger.commit),
        now,
      }),
    );
  }

  private async queueCreated(runs: Run[], created: boolean[], actor: Actor) {
    // Queued for repeats too: applying "run.created" again changes nothing, and a lost first message is replaced.
    await this.deps.queue.send(runs.map((run) => createdMessage(run.id)));
    this.deps.log.info("runs started", { runs: runs.map((r) => r.id), created, actor });
    return { runs, created };
  }
}

export function createdMessage(runId: string): WorkMessage & { dedupKey: string } {
  return { runId, event: { type: "run.created" }, dedupKey: `created:${runId}` };
}
