import { deliveryRunId, pipelineMatches } from "../engine/index.js";
import type { Provider, TriggerContext } from "../model/index.js";
import { DefinitionCatalog } from "./catalog.js";
import type { RunStarter } from "./start-runs.js";

export interface IngestDeps {
  catalog: DefinitionCatalog;
  starter: RunStarter;
}

export type Ingested =
  | { outcome: "created" | "repeated"; delivery: string; runs: Array<{ id: string; pipeline: string }> }
  | { outcome: "ignored"; delivery: string; reason: string };

/**
 * Turns a verified git delivery into runs: one per matching pipeline, with an id derived from (provider,
 * delivery, pipeline), stored with a conditional write, then queued; only then is the delivery accepted. So one
 * write and one message per delivery. A repeated delivery addresses the same runs: it creates none and queues
 * them again, which is harmless (applying an event twice changes nothing), so a failure before the answer never
 * blocks the git host's retry. Runs are per (delivery, pipeline): a pipeline added since the first delivery gets
 * its run from a repeat. The delivery's record (kept for a TTL) is written by the scheduler as it starts each run.
 */
export class IngestService {
  constructor(private readonly deps: IngestDeps) {}

  async ingest(provider: Provider, deliveryId: string, context: TriggerContext): Promise<Ingested> {
    const { pipelines, jobs } = await this.deps.catalog.snapshot();
    const matching = pipelines.filter((p) => pipelineMatches(p, context));
    if (matching.length === 0)
      return { outcome: "ignored", delivery: deliveryId, reason: `no pipeline matches ${describe(context)}` };

    const { runs, created } = await this.deps.starter.start(
      matching.map((pipeline) => ({
        id: deliveryRunId(provider, deliveryId, pipeline.name),
        pipeline,
        jobs: DefinitionCatalog.jobsOf(pipeline, jobs),
        trigger: { ...context, deliveryId },
      })),
      { kind: "gitHost", provider, delivery: deliveryId },
    );
    return {
      outcome: created.every(Boolean) ? "created" : "repeated",
      delivery: deliveryId,
      runs: runs.map((r) => ({ id: r.id, pipeline: r.pipeline })),
    };
  }
}

function describe(ctx: TriggerContext): string {
  const what = ctx.event === "tag" ? `tag ${ctx.tag}` : `push to ${ctx.branch}`;
  return `${ctx.provider} ${ctx.repository} ${what}`;
}
