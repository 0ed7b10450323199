import { RetryableError } from "../../errors.js";
import type { PipelineSlots, SlotHolder, SlotWaiter, TaskSlots } from "../../ports.js";
import { type Expression, itemAbsent, update } from "./conditions.js";
import { type Item, KEYS, N, num, S, SCHEMA_ATTRIBUTE, SCHEMA_VERSION, schemaOf, str } from "./items.js";
import { INDEX } from "./table.js";
import type { TableIO, TransactWrite } from "./table-io.js";

const COLLECTION = "SLOTS";
/** A take that finds the slots full, then free again once it waits, tries again this many times. */
const TAKE_TRIES = 5;
/** A transaction holds at most 100 writes: a hand-off writes the counter plus two items per waiter. */
const HAND_OFF_CHUNK = 49;

const itemExists = update("attribute_exists(pk)", {}, {});

const holderItem = (pipeline: string, h: SlotHolder): Item => ({
  ...KEYS.slotHolder(pipeline, h),
  runId: S(h.runId),
  task: S(h.task),
  attempt: N(h.attempt),
  [SCHEMA_ATTRIBUTE]: N(SCHEMA_VERSION),
});
const waiterItem = (pipeline: string, w: SlotWaiter): Item => ({
  ...holderItem(pipeline, w),
  ...KEYS.slotWaiter(pipeline, w),
  since: S(w.since),
});
const holderOf = (item: Item): SlotHolder => ({
  runId: str(item, "runId"),
  task: str(item, "task"),
  attempt: num(item, "attempt") ?? 0,
});

/** The counter's update: adds `delta` held slots, and (re)writes its pipeline, index keys and schema. */
function countBy(pipeline: string, delta: number): Expression {
  return update(
    "SET #pipeline = :pipeline, #ck = :collection, #cs = :pipeline, #schema = :schema ADD #held :delta",
    {
      "#pipeline": "pipeline",
      "#ck": INDEX.byCollection.pk,
      "#cs": INDEX.byCollection.sk,
      "#schema": SCHEMA_ATTRIBUTE,
      "#held": "held",
    },
    {
      ":delta": N(delta),
      ":pipeline": S(pipeline),
      ":collection": S(COLLECTION),
      ":schema": N(SCHEMA_VERSION),
    },
  );
}
const heldAtMost = (max: number) =>
  update("attribute_not_exists(#held) OR #held <= :heldMax", { "#held": "held" }, { ":heldMax": N(max) });

/**
 * Each pipeline's slots are one partition (`SLOTS#<pipeline>`) of small items, so every call writes a few
 * hundred bytes whatever the burst: a counter (`COUNT`: `held`, the only item listed through byCollection, for
 * the reconciler's repair), one item per attempt holding a slot (`HOLD#<run>#<task>#<attempt>`) and one per
 * attempt waiting (`WAIT#<since>#...`, so a query lists them oldest run first). A take or give-back moves the
 * counter and a holder item in one transaction whose conditions make it exact and idempotent: the holder is put
 * only if absent (a repeated take counts once) and deleted only if present (a repeated give-back gives one).
 */
export class TaskSlotRepository implements TaskSlots {
  constructor(private readonly io: TableIO) {}

  async take(
    pipeline: string,
    waiter: SlotWaiter,
    limit: number,
  ): Promise<{ taken: true } | { taken: false; holding: number }> {
    const counter = KEYS.slotCounter(pipeline);
    for (let i = 0; i < TAKE_TRIES; i++) {
      const took = await this.io.transactWrite([
        { update: counter, expression: countBy(pipeline, 1), condition: heldAtMost(limit - 1) },
        { put: holderItem(pipeline, waiter), condition: itemAbsent },
        { delete: KEYS.slotWaiter(pipeline, waiter) },
      ]);
      if (took.ok || took.failed[1]) return { taken: true };
      // Full: wait, in one step with seeing it full (so a slot given back after it sees the waiter) and with
      // seeing no slot handed to the attempt meanwhile (a waiter never outlives its hand-off). Room again: retry.
      const waited = await this.io.transactWrite([
        { check: counter, condition: update("#held >= :limit", { "#held": "held" }, { ":limit": N(limit) }) },
        { check: KEYS.slotHolder(pipeline, waiter), condition: itemAbsent },
        { put: waiterItem(pipeline, waiter) },
      ]);
      if (waited.ok) return { taken: false, holding: num(took.current[0] ?? {}, "held") ?? limit };
      if (waited.failed[1]) return { taken: true };
    }
    throw new RetryableError(
      `the slots of pipeline ${pipeline} changed under ${TAKE_TRIES} tries to take one`,
    );
  }

  async release(pipeline: string, waiter: SlotWaiter): Promise<PipelineSlots | undefined> {
    const released = await this.io.transactWrite([
      { delete: KEYS.slotHolder(pipeline, waiter), condition: itemExists },
      { update: KEYS.slotCounter(pipeline), expression: countBy(pipeline, -1) },
    ]);
    // An attempt holding a slot waits for none (take and hand-off delete the waiter with the holder's put).
    if (!released.ok) await this.io.delete(KEYS.slotWaiter(pipeline, waiter));
    return this.read(pipeline);
  }

  async unwait(
    pipeline: string,
    waiters: SlotWaiter[],
  ): Promise<{ ok: true } | { ok: false; current?: PipelineSlots }> {
    if (waiters.length === 0) return { ok: true };
    if (waiters.length > 100) throw new Error(`unwait takes at most 100 waiters, not ${waiters.length}`);
    const removed = await this.io.transactWrite(
      waiters.map((w) => ({ delete: KEYS.slotWaiter(pipeline, w), condition: itemExists })),
    );
    return removed.ok ? { ok: true } : { ok: false, current: await this.read(pipeline) };
  }

  /**
   * One transaction per 49 waiters (DynamoDB's 100 writes): each chunk is all or nothing, and the room is checked
   * per chunk. Callers hand out what one give-back or one repair frees, rarely more than a chunk; when a later
   * chunk fails, the earlier ones hold their slots and their runs submit at the reconciler's next look.
   */
  async handOff(
    pipeline: string,
    waiters: SlotWaiter[],
    limit: number,
  ): Promise<{ ok: true } | { ok: false; current?: PipelineSlots }> {
    for (let i = 0; i < waiters.length; i += HAND_OFF_CHUNK) {
      const chunk = waiters.slice(i, i + HAND_OFF_CHUNK);
      const writes: TransactWrite[] = [
        {
          update: KEYS.slotCounter(pipeline),
          expression: countBy(pipeline, chunk.length),
          condition: heldAtMost(limit - chunk.length),
        },
      ];
      for (const w of chunk)
        writes.push(
          { put: holderItem(pipeline, w), condition: itemAbsent },
          { delete: KEYS.slotWaiter(pipeline, w), condition: itemExists },
        );
      const handed = await this.io.transactWrite(writes);
      if (!handed.ok) return { ok: false, current: await this.read(pipeline) };
    }
    return { ok: true };
  }

  async list(): Promise<PipelineSlots[]> {
    const items = await this.io.collection(COLLECTION);
    const pipelines = new Set<string>();
    for (const item of items) {
      schemaOf(item);
      if (str(item, "sk") === "SLOTS") await this.migrate(item);
      pipelines.add(str(item, "pipeline"));
    }
    const all: PipelineSlots[] = [];
    for (const pipeline of pipelines) {
      const slots = await this.read(pipeline);
      if (slots) all.push(slots);
    }
    return all;
  }

  /** The pipeline's slots as stored now (a consistent query of its partition); undefined when it has none. */
  private async read(pipeline: string): Promise<PipelineSlots | undefined> {
    const { items } = await this.io.query(
      {
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": KEYS.slotCounter(pipeline).pk as Item[string] },
        ConsistentRead: true,
      },
      Number.POSITIVE_INFINITY,
    );
    if (items.length === 0) return undefined;
    const slots: PipelineSlots = { pipeline, holders: [], waiting: [] };
    for (const item of items) {
      schemaOf(item);
      const sk = str(item, "sk");
      if (sk.startsWith("HOLD#")) slots.holders.push(holderOf(item));
      else if (sk.startsWith("WAIT#")) slots.waiting.push({ since: str(item, "since"), ...holderOf(item) });
    }
    return slots;
  }

  /**
   * A pipeline's slots as the release before this one kept them (one item, string sets `holders` and
   * `waiting` of "<run> <task> <attempt>", waiters prefixed by their run's creation time): rewritten as items
   * once, by the repair's first look, then deleted. A holder is counted whatever the limit (it holds its slot).
   */
  private async migrate(legacy: Item): Promise<void> {
    const pipeline = str(legacy, "pipeline");
    const parse = (text: string): SlotHolder => {
      const [runId = "", task = "", attempt = "0"] = text.split(" ");
      return { runId, task, attempt: Number(attempt) };
    };
    for (const text of legacy.holders?.SS ?? [])
      await this.take(pipeline, { ...parse(text), since: "" }, Number.MAX_SAFE_INTEGER);
    for (const text of legacy.waiting?.SS ?? []) {
      const [since = "", ...rest] = text.split(" ");
      await this.io.put(waiterItem(pipeline, { since, ...parse(rest.join(" ")) }));
    }
    await this.io.delete(KEYS.taskSlotsLegacy(pipeline));
  }
}
