import type { JobTemplate, Pipeline } from "../../model/index.js";
import type { DefinitionStore, StoredDefinition } from "../../ports.js";
import { type DefinitionKind, type Item, KEYS, S, schemaAttribute, schemaOf, str } from "./items.js";
import { INDEX } from "./table.js";
import type { TableIO } from "./table-io.js";

/** The byCollection partition listing every definition of a kind, by name. */
const COLLECTION: Record<DefinitionKind, string> = { PIPELINE: "PIPELINES", JOB: "JOBS" };

/** Versions 1 and 2 store a definition alike. */
function definitionFromItem<T>(item: Item): StoredDefinition<T> {
  schemaOf(item);
  return { value: JSON.parse(str(item, "doc")) as T, updatedAt: str(item, "updatedAt") };
}

/** Pipelines and job templates: one item each by name, listed through byCollection. */
export class DefinitionRepository implements DefinitionStore {
  constructor(private readonly io: TableIO) {}

  putPipeline(pipeline: Pipeline, now: string): Promise<void> {
    return this.put("PIPELINE", pipeline.name, pipeline, now);
  }
  getPipeline(name: string): Promise<StoredDefinition<Pipeline> | undefined> {
    return this.get("PIPELINE", name);
  }
  listPipelines(): Promise<Array<StoredDefinition<Pipeline>>> {
    return this.list("PIPELINE");
  }
  deletePipeline(name: string): Promise<boolean> {
    return this.delete("PIPELINE", name);
  }
  putJob(job: JobTemplate, now: string): Promise<void> {
    return this.put("JOB", job.name, job, now);
  }
  getJob(name: string): Promise<StoredDefinition<JobTemplate> | undefined> {
    return this.get("JOB", name);
  }
  listJobs(): Promise<Array<StoredDefinition<JobTemplate>>> {
    return this.list("JOB");
  }
  deleteJob(name: string): Promise<boolean> {
    return this.delete("JOB", name);
  }

  private async put(kind: DefinitionKind, name: string, value: unknown, now: string): Promise<void> {
    await this.io.put({
      ...KEYS.definition(kind, name),
      ...schemaAttribute(),
      doc: S(JSON.stringify(value)),
      updatedAt: S(now),
      [INDEX.byCollection.pk]: S(COLLECTION[kind]),
      [INDEX.byCollection.sk]: S(name),
    });
  }

  private async get<T>(kind: DefinitionKind, name: string): Promise<StoredDefinition<T> | undefined> {
    const item = await this.io.get(KEYS.definition(kind, name));
    return item && definitionFromItem<T>(item);
  }

  private async list<T>(kind: DefinitionKind): Promise<Array<StoredDefinition<T>>> {
    const { items } = await this.io.query(
      {
        IndexName: INDEX.byCollection.name,
        KeyConditionExpression: "#pk = :pk",
        ExpressionAttributeNames: { "#pk": INDEX.byCollection.pk },
        ExpressionAttributeValues: { ":pk": S(COLLECTION[kind]) },
      },
      Number.POSITIVE_INFINITY,
    );
    return items.map((item) => definitionFromItem<T>(item));
  }

  private async delete(kind: DefinitionKind, name: string): Promise<boolean> {
    const deleted = await this.io.delete(KEYS.definition(kind, name));
    return deleted.ok && deleted.existed;
  }
}
