import { VersionConflictError } from "../../errors.js";
import { isTerminalRun, needsReconciling, type Run, type RunStatus } from "../../model/index.js";
import type { ActiveRun, Page, RunQuery, RunStore } from "../../ports.js";
import { itemAbsent, versionIs } from "./conditions.js";
import { decodeCursor, encodeCursor, type RunPartition } from "./cursor.js";
import { type Item, KEYS, N, num, S, schemaAttribute, schemaOf, str } from "./items.js";
import { INDEX } from "./table.js";
import type { Query, TableIO } from "./table-io.js";

/** The stored form of a run: the document, plus the attributes its indexes and conditions need. */
export function runItem(run: Run): Item {
  const { version, ...doc } = run;
  const order = `${run.createdAt}#${run.id}`;
  return {
    ...KEYS.run(run.id),
    ...schemaAttribute(),
    doc: S(JSON.stringify(doc)),
    version: N(version),
    id: S(run.id),
    pipeline: S(run.pipeline),
    status: S(run.status),
    createdAt: S(run.createdAt),
    [INDEX.byCollection.pk]: S(`PIPELINE#${run.pipeline}`),
    [INDEX.byCollection.sk]: S(order),
    [INDEX.byTime.pk]: S("RUNS"),
    [INDEX.byTime.sk]: S(order),
    ...(needsReconciling(run) && { [INDEX.active.pk]: S("ACTIVE"), [INDEX.active.sk]: S(order) }),
    ...(run.concurrencyGroup !== undefined && { concurrencyGroup: S(run.concurrencyGroup) }),
  };
}

/** Versions 1 and 2 store a run alike; a later layout change adds its reading here. */
export function runFromItem(item: Item): Run {
  schemaOf(item);
  return { ...(JSON.parse(str(item, "doc")) as Omit<Run, "version">), version: num(item, "version") ?? 0 };
}

/** Runs: one item each, written only on the version it was read at. */
export class RunRepository implements RunStore {
  constructor(private readonly io: TableIO) {}

  async getRun(id: string): Promise<Run | undefined> {
    const item = await this.io.get(KEYS.run(id));
    return item && runFromItem(item);
  }

  async saveRun(run: Run): Promise<Run> {
    const next = { ...run, version: run.version + 1 };
    const written = await this.io.put(runItem(next), run.version === 0 ? itemAbsent : versionIs(run.version));
    if (written.ok) return next;
    // The run as it is now came back with the refusal: the caller re-applies on it without reading again.
    throw new VersionConflictError(
      `run ${run.id} changed since version ${run.version}`,
      written.current && runFromItem(written.current),
    );
  }

  /** Stores runs that must not exist yet (version 1); false for each whose id is taken. */
  async createRuns(runs: Run[]): Promise<boolean[]> {
    return Promise.all(
      runs.map(async (run) => (await this.io.put(runItem({ ...run, version: 1 }), itemAbsent)).ok),
    );
  }

  async listRuns(query: RunQuery): Promise<Page<Run>> {
    const index = query.pipeline ? INDEX.byCollection : INDEX.byTime;
    const partition: RunPartition = {
      pk: index.pk,
      sk: index.sk,
      value: query.pipeline ? `PIPELINE#${query.pipeline}` : "RUNS",
    };
    const start = decodeCursor(query.cursor, partition);
    const input: Query = {
      IndexName: index.name,
      KeyConditionExpression: "#pk = :pk",
      ExpressionAttributeNames: { "#pk": index.pk },
      ExpressionAttributeValues: { ":pk": S(partition.value) },
      ScanIndexForward: false,
    };
    if (query.status) {
      input.FilterExpression = "#status = :status";
      input.ExpressionAttributeNames = { ...input.ExpressionAttributeNames, "#status": "status" };
      input.ExpressionAttributeValues = { ...input.ExpressionAttributeValues, ":status": S(query.status) };
    }
    const { items, last } = await this.io.query(input, query.limit, start);
    return { items: items.map(runFromItem), ...(last && { cursor: encodeCursor(last) }) };
  }

  /**
   * Reads the active index's projection only (id, pipeline, status, createdAt, concurrencyGroup), which holds no
   * `schema`: those attributes mean the same in every version so far.
   */
  async activeRuns(group?: string): Promise<ActiveRun[]> {
    const input: Query = {
      IndexName: INDEX.active.name,
      KeyConditionExpression: "#pk = :pk",
      ExpressionAttributeNames: { "#pk": INDEX.active.pk },
      ExpressionAttributeValues: { ":pk": S("ACTIVE") },
      ScanIndexForward: true,
    };
    if (group !== undefined) {
      input.FilterExpression = "concurrencyGroup = :group";
      input.ExpressionAttributeValues = { ...input.ExpressionAttributeValues, ":group": S(group) };
    }
    const { items } = await this.io.query(input, Number.POSITIVE_INFINITY);
    // A finished run that still owes its Jobs work is in the index, but no longer in its concurrency group.
    const members =
      group === undefined ? items : items.filter((i) => !isTerminalRun(str(i, "status") as RunStatus));
    return members.map((item) => ({
      id: str(item, "id"),
      pipeline: str(item, "pipeline"),
      status: str(item, "status") as ActiveRun["status"],
      createdAt: str(item, "createdAt"),
      ...(item.concurrencyGroup && { concurrencyGroup: str(item, "concurrencyGroup") }),
    }));
  }
}
