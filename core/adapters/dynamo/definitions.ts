import { ConflictError } from "../../errors.js";
import type { JobTemplate, Pipeline } from "../../model/index.js";
import type { DefinitionStore, SavedVersion, StoredDefinition } from "../../ports.js";
import { anyOf, itemAbsent, versionIs } from "./conditions.js";
import { type DefinitionKind, type Item, KEYS, N, num, S, schemaAttribute, schemaOf, str } from "./items.js";
import { INDEX } from "./table.js";
import type { TableIO } from "./table-io.js";

/** The byCollection partition listing every definition of a kind, by name. */
const COLLECTION: Record<DefinitionKind, string> = { PIPELINE: "PIPELINES", JOB: "JOBS" };

/** Versions 1 and 2 store a definition alike; a definition saved before versions were kept is version 0. */
function definitionFromItem<T>(item: Item): StoredDefinition<T> {
  schemaOf(item);
  return {
    value: JSON.parse(str(item, "doc")) as T,
    updatedAt: str(item, "updatedAt"),
    version: num(item, "version") ?? 0,
  };
}

/**
 * Pipelines and job templates: one current item each by name, listed through byCollection, and one item per
 * version saved (kept after a delete, never listed), so an old version can be read back and applied again.
 */
export class DefinitionRepository implements DefinitionStore {
  constructor(private readonly io: TableIO) {}

  putPipeline(pipeline: Pipeline, now: string): Promise<SavedVersion> {
    return this.put("PIPELINE", pipeline.name, pipeline, now);
  }
  getPipeline(name: string): Promise<StoredDefinition<Pipeline> | undefined> {
    return this.get("PIPELINE", name);
  }
  getPipelineVersion(name: string, version: number): Promise<StoredDefinition<Pipeline> | undefined> {
    return this.getVersion("PIPELINE", name, version);
  }
  listPipelines(): Promise<Array<StoredDefinition<Pipeline>>> {
    return this.list("PIPELINE");
  }
  deletePipeline(name: string): Promise<boolean> {
    return this.delete("PIPELINE", name);
  }
  putJob(job: JobTemplate, now: string): Promise<SavedVersion> {
    return this.put("JOB", job.name, job, now);
  }
  getJob(name: string): Promise<StoredDefinition<JobTemplate> | undefined> {
    return this.get("JOB", name);
  }
  getJobVersion(name: string, version: number): Promise<StoredDefinition<JobTemplate> | undefined> {
    return this.getVersion("JOB", name, version);
  }
  listJobs(): Promise<Array<StoredDefinition<JobTemplate>>> {
    return this.list("JOB");
  }
  deleteJob(name: string): Promise<boolean> {
    return this.delete("JOB", name);
  }

  /**
   * The next version after the highest ever saved (`lastVersion` survives a delete in the version items), written
   * first as its own version item (absent, so two racing saves cannot both take it), then as the current item.
   */
  private async put(kind: DefinitionKind, name: string, value: unknown, now: string): Promise<SavedVersion> {
    const current = await this.io.get(KEYS.definition(kind, name));
    const previous = current ? (num(current, "version") ?? 0) : undefined;
    const last = await this.lastVersion(kind, name);
    const version = Math.max(previous ?? 0, last) + 1;
    const body = {
      ...schemaAttribute(),
      doc: S(JSON.stringify(value)),
      updatedAt: S(now),
      version: N(version),
    };
    const taken = await this.io.put({ ...KEYS.definitionVersion(kind, name, version), ...body }, itemAbsent);
    if (!taken.ok) throw raced(kind, name);
    const written = await this.io.put(
      {
        ...KEYS.definition(kind, name),
        ...body,
        [INDEX.byCollection.pk]: S(COLLECTION[kind]),
        [INDEX.byCollection.sk]: S(name),
      },
      previous === undefined
        ? itemAbsent
        : previous === 0
          ? anyOf(itemAbsent, noVersion)
          : versionIs(previous),
    );
    if (!written.ok) throw raced(kind, name);
    return { version, ...(previous !== undefined && { previous }) };
  }

  private async lastVersion(kind: DefinitionKind, name: string): Promise<number> {
    const { items } = await this.io.query(
      {
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :versions)",
        ExpressionAttributeValues: { ":pk": S(`${kind}#${name}`), ":versions": S(`${kind}#V#`) },
        ScanIndexForward: false,
        ConsistentRead: true,
      },
      1,
    );
    return items[0] ? (num(items[0], "version") ?? 0) : 0;
  }

  private async get<T>(kind: DefinitionKind, name: string): Promise<StoredDefinition<T> | undefined> {
    const item = await this.io.get(KEYS.definition(kind, name));
    return item && definitionFromItem<T>(item);
  }

  private async getVersion<T>(
    kind: DefinitionKind,
    name: string,
    version: number,
  ): Promise<StoredDefinition<T> | undefined> {
    const item = await this.io.get(KEYS.definitionVersion(kind, name, version));
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

const noVersion = {
  expression: "attribute_not_exists(#version)",
  names: { "#version": "version" },
  values: {},
};

const raced = (kind: DefinitionKind, name: string) =>
  new ConflictError(
    `${kind === "PIPELINE" ? "pipeline" : "job template"} ${name} was saved by someone else at the same time; read it and send yours again`,
  );
