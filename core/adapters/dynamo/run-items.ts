import { brotliCompressSync, brotliDecompressSync, constants } from "node:zlib";
import { needsReconciling, type Run } from "../../model/index.js";
import { itemAbsent } from "./conditions.js";
import { type Item, KEYS, N, num, S, schemaAttribute, schemaOf, sha256Hex, str } from "./items.js";
import { INDEX } from "./table.js";
import type { TableIO } from "./table-io.js";

// How a run is stored (a head, its spec), apart from the repository that reads runs (runs.ts), which folds their
// reports in with the engine: the webhook writes new runs and reads none, so it loads neither (issue 20).

/**
 * Brotli at quality 5, in well under a millisecond: a finished 5-task run's head is 707 B as stored, index
 * attributes included (one write unit; bench/wide-stage.ts), against 3.3 KB for the whole run as JSON. The top
 * quality saves a few percent more for ten times the CPU.
 */
const BROTLI = { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } };

/** What a run is started with and never changes: kept once, in an item of its own, not in every save. */
const SPEC_FIELDS = ["definition", "jobs", "params", "variables", "trigger"] as const;
type Spec = Pick<Run, (typeof SPEC_FIELDS)[number]>;

const compress = (value: unknown) => brotliCompressSync(JSON.stringify(value), BROTLI);
const decompress = (item: Item, name: string) => {
  const binary = item[name]?.B;
  return JSON.parse(binary ? brotliDecompressSync(binary).toString("utf8") : str(item, name)) as unknown;
};

/** A run's spec and its content hash, which names its item (`SPEC#<hash>`): the same spec, the same item. */
export function specOf(run: Run): { spec: Spec; hash: string } {
  const spec = Object.fromEntries(SPEC_FIELDS.map((f) => [f, run[f]])) as Spec;
  return { spec, hash: sha256Hex(JSON.stringify(spec)).slice(0, 32) };
}

export function specItem(runId: string, spec: { spec: Spec; hash: string }): Item {
  return { ...KEYS.spec(runId, spec.hash), ...schemaAttribute(), doc: { B: compress(spec.spec) } };
}

/**
 * The stored form of a run's head: what changes (the document without the spec, brotli-compressed, without its
 * version), the hash of its spec, and the attributes its indexes and conditions need. Its id and creation time
 * are in the index sort keys.
 *
 * A head is in exactly one listing index: `active` while it needs reconciling, then `byCollection` and `byTime`.
 * Those two project every attribute, so a head in them is copied into both on each save (2 write units more per
 * save); a head is saved about ten times while it runs and rarely after, so it joins them once, when it leaves
 * `active`, whose projection is a few attributes that change only with its status. listRuns reads both.
 */
export function runItem(run: Run, specHash = specOf(run).hash): Item {
  const { version, ...doc } = run;
  for (const field of SPEC_FIELDS) delete (doc as Partial<Run>)[field];
  const order = `${run.createdAt}#${run.id}`;
  return {
    ...KEYS.run(run.id),
    ...schemaAttribute(),
    doc: { B: compress(doc) },
    spec: S(specHash),
    version: N(version),
    pipeline: S(run.pipeline),
    status: S(run.status),
    ...(needsReconciling(run)
      ? { [INDEX.active.pk]: S("ACTIVE"), [INDEX.active.sk]: S(order) }
      : {
          [INDEX.byCollection.pk]: S(`PIPELINE#${run.pipeline}`),
          [INDEX.byCollection.sk]: S(order),
          [INDEX.byTime.pk]: S("RUNS"),
          [INDEX.byTime.sk]: S(order),
        }),
    ...(run.concurrencyGroup !== undefined && { concurrencyGroup: S(run.concurrencyGroup) }),
  };
}

/**
 * Versions 1 and 2 store the whole run as JSON text in the head; version 3 the changing part compressed, and the
 * spec in the item its `spec` names (given here as `specs`, by hash).
 */
export function runFromItem(item: Item, specs: ReadonlyMap<string, Item> = new Map()): Run {
  schemaOf(item);
  const doc = decompress(item, "doc") as Omit<Run, "version">;
  const hash = item.spec?.S;
  const spec = hash === undefined ? {} : specs.get(hash);
  if (!spec) throw new Error(`run item ${str(item, "pk")}: its spec ${hash} is missing`);
  const fields = hash === undefined ? {} : (decompress(spec as Item, "doc") as Spec);
  return { ...doc, ...fields, version: num(item, "version") ?? 0 };
}

/**
 * Each run's spec, if its item is absent: per run, its spec's hash and whether this call wrote it. A run's spec is
 * stored before its head (`putNewHeads`), which decides whether the run is new: the same id brings the same spec
 * (webhook runs' ids come from their delivery).
 */
export function putNewSpecs(
  io: TableIO,
  runs: Run[],
): Promise<Array<{ run: Run; hash: string; written: boolean }>> {
  return Promise.all(
    runs.map(async (run) => {
      const spec = specOf(run);
      return { run, hash: spec.hash, written: (await io.put(specItem(run.id, spec), itemAbsent)).ok };
    }),
  );
}

/** Each run's head at version 1, its spec stored (`putNewSpecs`): per run, whether it is new (false: id taken). */
export function putNewHeads(io: TableIO, specs: Array<{ run: Run; hash: string }>): Promise<boolean[]> {
  return Promise.all(
    specs.map(async ({ run, hash }) => (await io.put(runItem({ ...run, version: 1 }, hash), itemAbsent)).ok),
  );
}
