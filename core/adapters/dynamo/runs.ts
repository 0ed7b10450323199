import { brotliCompressSync, brotliDecompressSync, constants } from "node:zlib";
import { foldReports, type ReportFact, reportKind } from "../../engine/reports.js";
import { VersionConflictError } from "../../errors.js";
import { isTerminalRun, needsReconciling, type Run, type RunStatus } from "../../model/index.js";
import type { ActiveRun, Page, RunQuery, RunStore } from "../../ports.js";
import { itemAbsent, versionIs } from "./conditions.js";
import { decodeCursor, encodeCursor, type RunPartition } from "./cursor.js";
import { type Item, KEYS, N, num, S, schemaAttribute, schemaOf, sha256Hex, str } from "./items.js";
import { INDEX } from "./table.js";
import type { Query, TableIO } from "./table-io.js";

/**
 * Brotli at quality 5: a finished 5-task run's 3 KB of JSON in about 0.7 KB (one write unit), in well under a
 * millisecond; the top quality saves a few percent more for ten times the CPU.
 */
const BROTLI = { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } };

/**
 * The stored form of a run's head: the document (brotli-compressed JSON, without its version), plus the
 * attributes its indexes and conditions need. Its id and creation time are in the index sort keys.
 */
export function runItem(run: Run): Item {
  const { version, ...doc } = run;
  const order = `${run.createdAt}#${run.id}`;
  return {
    ...KEYS.run(run.id),
    ...schemaAttribute(),
    doc: { B: brotliCompressSync(JSON.stringify(doc), BROTLI) },
    version: N(version),
    pipeline: S(run.pipeline),
    status: S(run.status),
    [INDEX.byCollection.pk]: S(`PIPELINE#${run.pipeline}`),
    [INDEX.byCollection.sk]: S(order),
    [INDEX.byTime.pk]: S("RUNS"),
    [INDEX.byTime.sk]: S(order),
    ...(needsReconciling(run) && { [INDEX.active.pk]: S("ACTIVE"), [INDEX.active.sk]: S(order) }),
    ...(run.concurrencyGroup !== undefined && { concurrencyGroup: S(run.concurrencyGroup) }),
  };
}

/** Versions 1 and 2 store the document as JSON text; version 3 compressed (the same attribute, binary). */
export function runFromItem(item: Item): Run {
  schemaOf(item);
  const binary = item.doc?.B;
  const json = binary ? brotliDecompressSync(binary).toString("utf8") : str(item, "doc");
  return { ...(JSON.parse(json) as Omit<Run, "version">), version: num(item, "version") ?? 0 };
}

function reportItem(runId: string, report: ReportFact): Item {
  const { task, attempt } = report.event;
  return {
    ...KEYS.report(runId, task, attempt, reportKind(report.event, sha256Hex)),
    ...schemaAttribute(),
    event: S(JSON.stringify(report.event)),
    at: S(report.at),
  };
}

function reportFromItem(item: Item): ReportFact {
  schemaOf(item);
  return { event: JSON.parse(str(item, "event")) as ReportFact["event"], at: str(item, "at") };
}

/**
 * Runs: a head item, written only on the version it was read at, and beside it in the run's partition one item
 * per task report (docs/decisions.md, 1): a wide stage's tasks finishing at once write items of their own, never
 * the head, so they cannot conflict. One Query reads both; the reports are folded in on every read.
 */
export class RunRepository implements RunStore {
  constructor(private readonly io: TableIO) {}

  async getRun(id: string): Promise<Run | undefined> {
    return (await this.loadRun(id))?.run;
  }

  async loadRun(id: string): Promise<{ run: Run; unsaved: boolean } | undefined> {
    const { items } = await this.io.query(
      {
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": S(`RUN#${id}`) },
        ConsistentRead: true,
      },
      Number.POSITIVE_INFINITY,
    );
    const head = items.find((item) => str(item, "sk") === "RUN");
    if (!head) return undefined;
    const reports = items.filter((item) => str(item, "sk").startsWith("REPORT#")).map(reportFromItem);
    const saved = runFromItem(head);
    const run = foldReports(saved, reports);
    return { run, unsaved: run !== saved };
  }

  async addReport(
    runId: string,
    report: ReportFact,
  ): Promise<{ recorded: true } | { recorded: false; existing: ReportFact }> {
    const written = await this.io.put(reportItem(runId, report), itemAbsent);
    if (written.ok) return { recorded: true };
    return { recorded: false, existing: written.current ? reportFromItem(written.current) : report };
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
   * Reads the active index's projection only (its sort key `<createdAt>#<id>`, pipeline, status,
   * concurrencyGroup), which holds no `schema`: those attributes mean the same in every version so far.
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
    return members.map((item) => {
      const [createdAt = "", id = ""] = str(item, INDEX.active.sk).split("#");
      return {
        id,
        pipeline: str(item, "pipeline"),
        status: str(item, "status") as ActiveRun["status"],
        createdAt,
        ...(item.concurrencyGroup && { concurrencyGroup: str(item, "concurrencyGroup") }),
      };
    });
  }
}
