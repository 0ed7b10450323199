import { RetryableError } from "../../errors.js";
import type { PipelineSlots, SlotHolder, SlotWaiter, TaskSlots } from "../../ports.js";
import { allOf, type Expression, itemAbsent, update } from "./conditions.js";
import { type Item, KEYS, N, num, S, SCHEMA_ATTRIBUTE, SCHEMA_VERSION, schemaOf, str } from "./items.js";
import { INDEX } from "./table.js";
import type { TableIO, TransactWrite } from "./table-io.js";

const COLLECTION = "SLOTS";
/** A take that finds the slots full, then free again once it waits, tries again this many times. */
const TAKE_TRIES = 5;
/** A transaction holds at most 100 writes: a hand-off writes the counter plus two items per waiter. */
const HAND_OFF_CHUNK = 49;
/** A give-back that finds attempts waiting tries this many times (its first try included) to move its slot. */
const PASS_TRIES = 5;
/** ...choosing among this many of the oldest (two read units), so that concurrent give-backs rarely collide. */
const PASS_SPREAD = 32;

const itemExists = update("attribute_exists(pk)", {}, {});
const heldAtLeast = (limit: number) => update("#held >= :limit", { "#held": "held" }, { ":limit": N(limit) });

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
const waiterOf = (item: Item): SlotWaiter => ({ since: str(item, "since"), ...holderOf(item) });

/** Which of `count` waiters a give-back picks, on its `attempt`th try: spread by its own key, so concurrent ones differ. */
function spreadIndex(holder: SlotHolder, attempt: number, count: number): number {
  const key = `${holder.runId} ${holder.task} ${holder.attempt} ${attempt}`;
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (hash * 31 + key.charCodeAt(i)) >>> 0;
  return count === 0 ? 0 : hash % count;
}

/**
 * The counter's update: adds `held` and `waiting`, counts the write (`writes`, so the repair can tell that nothing
 * moved between its read and its correction), (re)writes its pipeline and schema, and takes a counter written
 * before out of byCollection (an index copy of every write cost as much as the write).
 */
function countBy(pipeline: string, held: number, waiting = 0): Expression {
  return update(
    "SET #pipeline = :pipeline, #schema = :schema ADD #held :held, #waiting :waiting, #writes :one REMOVE #ck, #cs",
    {
      "#pipeline": "pipeline",
      "#ck": INDEX.byCollection.pk,
      "#cs": INDEX.byCollection.sk,
      "#schema": SCHEMA_ATTRIBUTE,
      "#held": "held",
      "#waiting": "waiting",
      "#writes": "writes",
    },
    {
      ":one": N(1),
      ":held": N(held),
      ":waiting": N(waiting),
      ":pipeline": S(pipeline),
      ":schema": N(SCHEMA_VERSION),
    },
  );
}
const heldAtMost = (max: number) =>
  update("attribute_not_exists(#held) OR #held <= :heldMax", { "#held": "held" }, { ":heldMax": N(max) });
/** Nobody waits (a counter written before `waiting` was kept counts as nobody: the repair counts them). */
const noneWaiting = update(
  "attribute_not_exists(#waiting) OR #waiting = :none",
  { "#waiting": "waiting" },
  { ":none": N(0) },
);
const countOf = (counter: Item | undefined, name: "held" | "waiting") => (counter && num(counter, name)) ?? 0;

/**
 * How a take treats the attempt's own waiter item: nobody waits, so it has none (the common case, two writes);
 * it may have one, deleted with the take; it has none although others wait.
 */
type TakeMode = "noneWaiting" | "withWaiter" | "withoutWaiter";

/**
 * Each pipeline's slots are one partition (`SLOTS#<pipeline>`) of small items, none indexed, so every call writes a
 * few hundred bytes whatever the burst: a counter (`COUNT`: `held`, `waiting`; the repair finds it by the
 * pipelines of the runs in flight), one item per attempt holding a slot (`HOLD#<run>#<task>#<attempt>`)
 * and one per attempt waiting (`WAIT#<since>#...`, so a query lists them oldest run first). Every write that adds
 * or removes a holder or waiter moves its count on the counter in the same transaction, and its conditions make
 * it exact and idempotent: a holder or waiter is put only if absent (a repeated take or wait counts once) and
 * deleted only if present (a repeated give-back gives one). `waiting` lets a give-back skip reading the waiters
 * when there are none, the common case: a take and a give-back are then one transaction each and read nothing.
 */
export class TaskSlotRepository implements TaskSlots {
  /**
   * The pipelines whose attempts waited at this process's last look: a hint only (every write keeps its
   * conditions), so that in a burst a take goes straight to waiting and a give-back straight to moving its slot,
   * rather than first trying the write for nobody waiting, refused. A wrong hint costs a request.
   */
  private readonly crowded = new Set<string>();

  constructor(private readonly io: TableIO) {}

  private note(pipeline: string, someoneWaits: boolean): void {
    if (someoneWaits) this.crowded.add(pipeline);
    else this.crowded.delete(pipeline);
  }

  async take(
    pipeline: string,
    waiter: SlotWaiter,
    limit: number,
    hasWaited = false,
  ): Promise<{ taken: true } | { taken: false; holding: number }> {
    const counter = KEYS.slotCounter(pipeline);
    let mode: TakeMode = "noneWaiting";
    let seen: Item | undefined;
    if (hasWaited) {
      // An attempt that waited is most often taking a slot handed to it, or still waiting: one read (cheaper
      // than a write refused) of the counter, its holder and its waiter tells which, or how to take one.
      const found = await this.io.getMany([
        counter,
        KEYS.slotHolder(pipeline, waiter),
        KEYS.slotWaiter(pipeline, waiter),
      ]);
      const kind = (prefix: string) => found.find((item) => str(item, "sk").startsWith(prefix));
      if (kind("HOLD#")) return { taken: true };
      seen = kind("COUNT");
      const waits = kind("WAIT#") !== undefined;
      // Still full, and its waiter is still queued (a give-back will see it): it goes on waiting.
      if (waits && countOf(seen, "held") >= limit) return { taken: false, holding: countOf(seen, "held") };
      mode = waits ? "withWaiter" : "withoutWaiter";
    }
    // Others waited at the last look: most likely it is full, and this attempt waits too.
    let full = !hasWaited && this.crowded.has(pipeline);
    for (let i = 0; i < TAKE_TRIES; i++) {
      if (full) {
        // Full: wait, in one step with seeing it full (so a slot given back after it sees the waiter) and with
        // seeing no slot handed to the attempt meanwhile (a waiter never outlives its hand-off). Room: take.
        const waited = await this.io.transactWrite([
          { update: counter, expression: countBy(pipeline, 0, 1), condition: heldAtLeast(limit) },
          { check: KEYS.slotHolder(pipeline, waiter), condition: itemAbsent },
          { put: waiterItem(pipeline, waiter), condition: itemAbsent },
        ]);
        if (waited.ok) {
          this.note(pipeline, true);
          return { taken: false, holding: countOf(seen, "held") || limit };
        }
        if (waited.failed[1]) return { taken: true };
        // Waiting already (a repeated take): counted once.
        if (!waited.failed[0]) return { taken: false, holding: countOf(seen, "held") || limit };
        seen = waited.current[0] ?? seen;
        mode = waited.failed[2]
          ? "withWaiter"
          : countOf(seen, "waiting") > 0
            ? "withoutWaiter"
            : "noneWaiting";
        full = false;
        continue;
      }
      const took = await this.io.transactWrite([
        {
          update: counter,
          expression: countBy(pipeline, 1, mode === "withWaiter" ? -1 : 0),
          condition:
            mode === "noneWaiting" ? allOf(heldAtMost(limit - 1), noneWaiting) : heldAtMost(limit - 1),
        },
        { put: holderItem(pipeline, waiter), condition: itemAbsent },
        ...(mode === "withWaiter"
          ? [{ delete: KEYS.slotWaiter(pipeline, waiter), condition: itemExists }]
          : []),
      ]);
      if (took.ok && mode === "noneWaiting") this.note(pipeline, false);
      if (took.ok || took.failed[1]) return { taken: true };
      seen = took.current[0] ?? seen;
      if (!took.failed[0]) {
        // Only its own waiter item was missing: others wait, it does not.
        mode = "withoutWaiter";
        continue;
      }
      if (countOf(seen, "held") < limit) {
        // Room, but others wait: its waiter, if its run says it has one, goes with the take.
        mode = hasWaited ? "withWaiter" : "withoutWaiter";
        continue;
      }
      full = true;
    }
    throw new RetryableError(
      `the slots of pipeline ${pipeline} changed under ${TAKE_TRIES} tries to take one`,
    );
  }

  /**
   * One transaction for all, when nobody waits and there is room for all and none holds one yet; otherwise
   * nothing (the caller takes them one by one). Not tried while the `crowded` hint says others wait.
   */
  async takeAll(pipeline: string, waiters: SlotWaiter[], limit: number): Promise<boolean> {
    if (waiters.length === 0 || waiters.length > 99 || this.crowded.has(pipeline)) return false;
    const took = await this.io.transactWrite([
      {
        update: KEYS.slotCounter(pipeline),
        expression: countBy(pipeline, waiters.length),
        condition: allOf(heldAtMost(limit - waiters.length), noneWaiting),
      },
      ...waiters.map((w) => ({ put: holderItem(pipeline, w), condition: itemAbsent })),
    ]);
    if (!took.ok && countOf(took.current[0], "waiting") > 0) this.note(pipeline, true);
    return took.ok;
  }

  /**
   * One transaction for all, when nobody waits and each holds its slot; otherwise nothing (the caller gives them
   * back one by one). Not tried while the `crowded` hint says others wait.
   */
  async releaseAll(pipeline: string, holders: SlotWaiter[]): Promise<boolean> {
    if (holders.length === 0 || holders.length > 99 || this.crowded.has(pipeline)) return false;
    const released = await this.io.transactWrite([
      ...holders.map((h) => ({ delete: KEYS.slotHolder(pipeline, h), condition: itemExists })),
      {
        update: KEYS.slotCounter(pipeline),
        expression: countBy(pipeline, -holders.length),
        condition: noneWaiting,
      },
    ]);
    const counterSeen = released.ok ? undefined : released.current[holders.length];
    if (countOf(counterSeen, "waiting") > 0) this.note(pipeline, true);
    return released.ok;
  }

  /**
   * One transaction when nobody waits. When attempts wait (that write refused, or the `crowded` hint), the slot
   * moves straight to one of the oldest (its waiter deleted, its holder put, `held` unchanged): one read of at
   * most PASS_SPREAD waiters and one transaction. Concurrent give-backs pick among those by their own key, so they rarely pick the same waiter;
   * one that loses the race reads again. After PASS_TRIES lost races, or with `held` above the limit (lowered
   * since), the slot is freed instead and the reconciler's repair hands it on.
   */
  async release(pipeline: string, holder: SlotWaiter, limit: number): Promise<{ handedTo?: SlotWaiter }> {
    const counter = KEYS.slotCounter(pipeline);
    const own = KEYS.slotHolder(pipeline, holder);
    // Others waited at the last look: read the waiters first rather than try the write for nobody waiting.
    let readFirst = this.crowded.has(pipeline);
    for (let i = 0; i < PASS_TRIES; i++) {
      // Read again after each lost race: the give-backs that won it served the others read with it, too.
      const oldest = readFirst ? await this.oldestWaiters(pipeline, PASS_SPREAD) : [];
      readFirst = true;
      const next = oldest[spreadIndex(holder, i, oldest.length)];
      if (!next) {
        const released = await this.io.transactWrite([
          { delete: own, condition: itemExists },
          { update: counter, expression: countBy(pipeline, -1), condition: noneWaiting },
        ]);
        if (released.ok) {
          this.note(pipeline, false);
          return {};
        }
        if (released.failed[0]) {
          // It holds no slot (given back already, or it ended while it waited): it no longer waits either.
          await this.unwaitOwn(pipeline, holder);
          return {};
        }
        this.note(pipeline, true);
        continue;
      }
      const moved = await this.io.transactWrite([
        { delete: own, condition: itemExists },
        { update: counter, expression: countBy(pipeline, 0, -1), condition: heldAtMost(limit) },
        { put: holderItem(pipeline, next), condition: itemAbsent },
        { delete: KEYS.slotWaiter(pipeline, next), condition: itemExists },
      ]);
      if (moved.ok) return { handedTo: next }; // others may wait still: the hint stays
      if (moved.failed[0]) {
        // It holds no slot (given back already, or it ended while it waited): it no longer waits either.
        await this.unwaitOwn(pipeline, holder);
        return {};
      }
      if (moved.failed[1]) break; // more held than the limit allows now
      // A waiter that holds a slot already (its hand-off raced its own take): it waits no longer.
      if (moved.failed[2] && !moved.failed[3]) await this.unwait(pipeline, [next]);
    }
    await this.io.transactWrite([
      { delete: own, condition: itemExists },
      { update: counter, expression: countBy(pipeline, -1) },
    ]);
    return {};
  }

  /** Removes the attempt's own waiter item, if it has one, and counts it. */
  private async unwaitOwn(pipeline: string, waiter: SlotWaiter): Promise<void> {
    await this.io.transactWrite([
      { delete: KEYS.slotWaiter(pipeline, waiter), condition: itemExists },
      { update: KEYS.slotCounter(pipeline), expression: countBy(pipeline, 0, -1) },
    ]);
  }

  async unwait(
    pipeline: string,
    waiters: SlotWaiter[],
  ): Promise<{ ok: true } | { ok: false; current?: PipelineSlots }> {
    if (waiters.length === 0) return { ok: true };
    if (waiters.length > 99) throw new Error(`unwait takes at most 99 waiters, not ${waiters.length}`);
    const removed = await this.io.transactWrite([
      ...waiters.map((w) => ({ delete: KEYS.slotWaiter(pipeline, w), condition: itemExists })),
      { update: KEYS.slotCounter(pipeline), expression: countBy(pipeline, 0, -waiters.length) },
    ]);
    return removed.ok ? { ok: true } : { ok: false, current: await this.read(pipeline) };
  }

  /**
   * One transaction per 49 waiters (DynamoDB's 100 writes): each chunk is all or nothing, and the room is checked
   * per chunk. The repair hands out what its look found free, rarely more than a chunk; when a later chunk fails,
   * the earlier ones hold their slots and their runs submit at the reconciler's next look.
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
          expression: countBy(pipeline, chunk.length, -chunk.length),
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

  /**
   * The slots of `pipelines` and of every pipeline byCollection still lists, for the repair. A counter whose
   * `waiting` is not the waiters found (written before `waiting` was kept) is corrected, on the condition that no
   * write moved it since it was read.
   */
  async list(pipelines: Iterable<string> = []): Promise<PipelineSlots[]> {
    const items = await this.io.collection(COLLECTION);
    const names = new Set(pipelines);
    for (const item of items) {
      schemaOf(item);
      if (str(item, "sk") === "SLOTS") await this.migrate(item);
      names.add(str(item, "pipeline"));
    }
    const all: PipelineSlots[] = [];
    for (const pipeline of names) {
      const read = await this.readItems(pipeline);
      if (!read) continue;
      const { slots, counter } = read;
      if (counter && counter.waiting?.N !== String(slots.waiting.length))
        await this.io.update(
          KEYS.slotCounter(pipeline),
          update("SET #waiting = :found", { "#waiting": "waiting" }, { ":found": N(slots.waiting.length) }),
          counter.writes
            ? update("#writes = :seen", { "#writes": "writes" }, { ":seen": counter.writes })
            : update("attribute_not_exists(#writes)", { "#writes": "writes" }, {}),
        );
      all.push(slots);
    }
    return all;
  }

  /** The pipeline's slots as stored now (a consistent query of its partition); undefined when it has none. */
  async read(pipeline: string): Promise<PipelineSlots | undefined> {
    return (await this.readItems(pipeline))?.slots;
  }

  private async readItems(pipeline: string): Promise<{ slots: PipelineSlots; counter?: Item } | undefined> {
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
    let counter: Item | undefined;
    for (const item of items) {
      schemaOf(item);
      const sk = str(item, "sk");
      if (sk === "COUNT") counter = item;
      else if (sk.startsWith("HOLD#")) slots.holders.push(holderOf(item));
      else if (sk.startsWith("WAIT#")) slots.waiting.push(waiterOf(item));
    }
    return { slots, ...(counter && { counter }) };
  }

  /** At most `limit` of the pipeline's oldest waiters (a consistent query of the waiter items alone). */
  private async oldestWaiters(pipeline: string, limit: number): Promise<SlotWaiter[]> {
    const { items } = await this.io.query(
      {
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :wait)",
        ExpressionAttributeValues: {
          ":pk": KEYS.slotCounter(pipeline).pk as Item[string],
          ":wait": S("WAIT#"),
        },
        ConsistentRead: true,
      },
      limit,
    );
    return items.map(waiterOf);
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
      await this.io.transactWrite([
        { put: waiterItem(pipeline, { since, ...parse(rest.join(" ")) }), condition: itemAbsent },
        { update: KEYS.slotCounter(pipeline), expression: countBy(pipeline, 0, 1) },
      ]);
    }
    await this.io.delete(KEYS.taskSlotsLegacy(pipeline));
  }
}
