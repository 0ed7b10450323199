import { foldReports, type ReportFact, reportKind } from "../../engine/reports.js";
import { VersionConflictError } from "../../errors.js";
import { isTerminalRun, type Run, type RunStatus } from "../../model/index.js";
import type { ActiveRun, Page, RunQuery, RunStore } from "../../ports.js";
import { itemAbsent, versionIs } from "./conditions.js";
import { decodeCursor, encodeCursor, type RunPartition } from "./cursor.js";
import { type Item, KEYS, S, schemaAttribute, schemaOf, sha256Hex, str } from "./items.js";
import { runFromItem, runItem, specItem, specOf } from "./run-items.js";
import { INDEX } from "./table.js";
import type { Query, TableIO } from "./table-io.js";

/** A head's or an index entry's run id, from the table key every index projects. */
const runIdOf = (item: Item): string => str(item, "pk").slice("RUN#".length);

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
 * the head, so they cannot conflict. The spec, which never changes, is an item of its own, written once. One
 * Query reads head, spec and reports; the reports are folded in on every read.
 */
export class RunRepository implements RunStore {
  /** The spec hash each run was last read or written with here: a save writes the spec only when it changed. */
  private readonly knownSpecs = new Map<string, string>();

  constructor(private readonly io: TableIO) {}

  async getRun(id: string): Promise<Run | undefined> {
    return (await this.loadRun(id))?.run;
  }

  async loadRun(id: string): Promise<{ run: Run; saved: Run; unsaved: boolean } | undefined> {
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
    const specs = new Map(
      items
        .filter((item) => str(item, "sk").startsWith("SPEC#"))
        .map((item) => [str(item, "sk").slice(5), item]),
    );
    const saved = runFromItem(head, specs);
    this.remember(id, head.spec?.S);
    const run = foldReports(saved, reports);
    return { run, saved, unsaved: run !== saved };
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
    const spec = specOf(run);
    if (this.knownSpecs.get(run.id) !== spec.hash) await this.io.put(specItem(run.id, spec));
    const written = await this.io.put(
      runItem(next, spec.hash),
      run.version === 0 ? itemAbsent : versionIs(run.version),
    );
    if (written.ok) {
      this.remember(run.id, spec.hash);
      return next;
    }
    // The run as it is now came back with the refusal: the caller re-applies on it without reading again. Its
    // spec is the one just written, or the one it was created with (immutable: the same).
    throw new VersionConflictError(
      `run ${run.id} changed since version ${run.version}`,
      written.current && runFromItem(written.current, new Map([[spec.hash, specItem(run.id, spec)]])),
    );
  }

  private remember(runId: string, hash: string | undefined): void {
    if (hash === undefined) return;
    // A long-lived process sees many runs: forgetting one costs a spec write at most.
    if (this.knownSpecs.size >= 10_000) this.knownSpecs.clear();
    this.knownSpecs.set(runId, hash);
  }

  /**
   * Newest first, from both indexes a head is listed in (runItem): `active` while it needs reconciling, then
   * `byCollection` (one pipeline's runs) or `byTime` (all runs). Each is read below the cursor until `limit`
   * entries match, and the two are merged on their common order key, `<createdAt>#<id>`. A run found in both (a
   * head saved before this layout carries every key; an index a moment behind its table) is listed once. `active`
   * projects a few attributes, so its runs' heads are read with one BatchGetItem (then every listed run's spec
   * with another); a pipeline's runs there are filtered from all active runs (which the reconciler reads every
   * minute anyway). The cursor keeps the form it had when every head was in `byCollection` and `byTime`.
   */
  async listRuns(query: RunQuery): Promise<Page<Run>> {
    const listed = query.pipeline ? INDEX.byCollection : INDEX.byTime;
    const partition: RunPartition = {
      pk: listed.pk,
      sk: listed.sk,
      value: query.pipeline ? `PIPELINE#${query.pipeline}` : "RUNS",
    };
    const below = str(decodeCursor(query.cursor, partition) ?? {}, listed.sk);
    const status = query.status && { status: query.status };
    const [finished, active] = await Promise.all([
      this.listIndex(listed, partition.value, below, { ...status }, query.limit),
      this.listIndex(INDEX.active, "ACTIVE", below, { ...status, pipeline: query.pipeline }, query.limit),
    ]);
    const entries = new Map<string, { order: string; item: Item; whole: boolean }>();
    for (const item of active.items)
      entries.set(runIdOf(item), { order: str(item, INDEX.active.sk), item, whole: false });
    for (const item of finished.items)
      entries.set(runIdOf(item), { order: str(item, listed.sk), item, whole: true });
    const page = [...entries.values()].sort((a, b) => (a.order < b.order ? 1 : -1)).slice(0, query.limit);
    const heads = new Map(
      (await this.io.getMany(page.filter((e) => !e.whole).map((e) => KEYS.run(runIdOf(e.item))))).map(
        (head) => [runIdOf(head), head],
      ),
    );
    const listedHeads = page.flatMap((e) => {
      const head = e.whole ? e.item : heads.get(runIdOf(e.item));
      // Gone, or moved on from the status asked for since its index entry was written.
      return head && (!query.status || str(head, "status") === query.status) ? [head] : [];
    });
    const specs = await this.io.getMany(
      listedHeads.flatMap((head) => (head.spec?.S ? [KEYS.spec(runIdOf(head), head.spec.S)] : [])),
    );
    const byHash = new Map(specs.map((spec) => [str(spec, "sk").slice(5), spec]));
    const last = page.at(-1);
    const more = entries.size > query.limit || finished.last !== undefined || active.last !== undefined;
    return {
      items: listedHeads.map((head) => runFromItem(head, byHash)),
      ...(more &&
        last && {
          cursor: encodeCursor({
            ...KEYS.run(runIdOf(last.item)),
            [listed.pk]: S(partition.value),
            [listed.sk]: S(last.order),
          }),
        }),
    };
  }

  /** One listing index's entries in `value`, newest first, below `below` (an order key) when given. */
  private listIndex(
    index: { name: string; pk: string; sk: string },
    value: string,
    below: string,
    equal: Record<string, string | undefined>,
    limit: number,
  ): Promise<{ items: Item[]; last?: Item }> {
    // DynamoDB refuses a name or value the expressions do not use.
    const names: Record<string, string> = { "#pk": index.pk, ...(below && { "#sk": index.sk }) };
    const values: Item = { ":pk": S(value), ...(below && { ":below": S(below) }) };
    const filters = Object.entries(equal).flatMap(([name, wanted]) => {
      if (wanted === undefined) return [];
      names[`#${name}`] = name;
      values[`:${name}`] = S(wanted);
      return [`#${name} = :${name}`];
    });
    return this.io.query(
      {
        IndexName: index.name,
        KeyConditionExpression: below ? "#pk = :pk AND #sk < :below" : "#pk = :pk",
        ...(filters.length > 0 && { FilterExpression: filters.join(" AND ") }),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: false,
      },
      limit,
    );
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
