import { createHash } from "node:crypto";
import { RetryableError } from "../../errors.js";
import type { PipelineSlots, SlotHolder, SlotWaiter, TaskSlots } from "../../ports.js";
import { allOf, type Expression, itemAbsent, update } from "./conditions.js";
import { type Item, KEYS, N, num, S, SCHEMA_ATTRIBUTE, SCHEMA_VERSION, schemaOf, str } from "./items.js";
import { INDEX } from "./table.js";
import type { TableIO, TransactWrite } from "./table-io.js";

const COLLECTION = "SLOTS";
/** A take that finds the slots full, then free again once it waits, tries again this many times. */
const TAKE_TRIES = 5;
/** A transaction holds at most 100 writes: a hand-off writes the counter plus one waiter item per waiter. */
const HAND_OFF_CHUNK = 99;
/** A give-back that finds attempts waiting tries this many times to hand its freed slot to one of them. */
const PASS_TRIES = 5;
/** ...choosing among this many of the oldest (two read units), so that concurrent give-backs rarely collide. */
const PASS_SPREAD = 32;
/** At most this many attempts in one `takeAll` or `releaseAll` (a condition expression is at most 4 KB). */
const MANY_AT_ONCE = 99;

/**
 * A holder's key on the counter: 8 characters of its attempt's SHA-256, base64url (48 bits), so that the limit's
 * 100 holders stay under 1 KB (one write unit) with the counter's other attributes. Two of a pipeline's holders
 * at one time share a key with a chance of about 100² / 2⁴⁹ (2·10⁻¹¹): they would then hold one slot together.
 */
export function slotKeyOf(holder: SlotHolder): string {
  return createHash("sha256")
    .update(`${holder.runId}\n${holder.task}\n${holder.attempt}`, "utf8")
    .digest("base64url")
    .slice(0, 8);
}

const itemExists = update("attribute_exists(pk)", {}, {});
const HOLDERS = { "#holders": "holders" };
const keyValues = (keys: string[]): Item => Object.fromEntries(keys.map((k, i) => [`:k${i}`, S(k)]));
const everyKey = (keys: string[], clause: (placeholder: string) => string) =>
  keys.map((_, i) => clause(`:k${i}`)).join(" AND ");
/** None of `keys` holds a slot on the counter. */
const holdingNone = (keys: string[]) =>
  update(
    everyKey(keys, (k) => `NOT contains(#holders, ${k})`),
    HOLDERS,
    keyValues(keys),
  );
/** Each of `keys` holds a slot on the counter. */
const holdingAll = (keys: string[]) =>
  update(
    everyKey(keys, (k) => `contains(#holders, ${k})`),
    HOLDERS,
    keyValues(keys),
  );
/**
 * Every slot held is on the counter (`held` is the size of `holders`): no holder item of the release before is
 * left, so "not in `holders`" means "holds no slot". Empty sets do not exist in DynamoDB: none held, none there.
 */
const noHolderItems = update(
  "attribute_not_exists(#held) OR #held = :none OR size(#holders) = #held",
  { "#held": "held", ...HOLDERS },
  { ":none": N(0) },
);
const heldAtLeast = (limit: number) => update("#held >= :limit", { "#held": "held" }, { ":limit": N(limit) });
const heldAtMost = (max: number) =>
  update("attribute_not_exists(#held) OR #held <= :heldMax", { "#held": "held" }, { ":heldMax": N(max) });
/** Nobody waits (a counter written before `waiting` was kept counts as nobody: the repair counts them). */
const noneWaiting = update(
  "attribute_not_exists(#waiting) OR #waiting = :none",
  { "#waiting": "waiting" },
  { ":none": N(0) },
);

/**
 * The counter's update: adds to `held` and `waiting`, adds `take` to its holders and removes `give` (never both:
 * DynamoDB updates an attribute once a request), counts the write (`writes`, so the repair can tell that nothing
 * moved between its read and its correction), (re)writes its pipeline and schema, and takes a counter written
 * before out of byCollection (an index copy of every write cost as much as the write).
 */
function countBy(
  pipeline: string,
  move: { held?: number; waiting?: number; take?: string[]; give?: string[] },
): Expression {
  const { held = 0, waiting = 0, take = [], give = [] } = move;
  const add = ["#held :held", "#waiting :waiting", "#writes :one"];
  const values: Item = {
    ":one": N(1),
    ":held": N(held),
    ":waiting": N(waiting),
    ":pipeline": S(pipeline),
    ":schema": N(SCHEMA_VERSION),
  };
  if (take.length > 0) {
    add.push("#holders :take");
    values[":take"] = { SS: take };
  }
  if (give.length > 0) values[":give"] = { SS: give };
  return update(
    `SET #pipeline = :pipeline, #schema = :schema ADD ${add.join(", ")}${give.length > 0 ? " DELETE #holders :give" : ""} REMOVE #ck, #cs`,
    {
      "#pipeline": "pipeline",
      "#ck": INDEX.byCollection.pk,
      "#cs": INDEX.byCollection.sk,
      "#schema": SCHEMA_ATTRIBUTE,
      "#held": "held",
      "#waiting": "waiting",
      "#writes": "writes",
      ...(take.length + give.length > 0 && HOLDERS),
    },
    values,
  );
}

const waiterItem = (pipeline: string, w: SlotWaiter): Item => ({
  ...KEYS.slotWaiter(pipeline, w),
  runId: S(w.runId),
  task: S(w.task),
  attempt: N(w.attempt),
  since: S(w.since),
  [SCHEMA_ATTRIBUTE]: N(SCHEMA_VERSION),
});
const holderOf = (item: Item): SlotHolder => ({
  runId: str(item, "runId"),
  task: str(item, "task"),
  attempt: num(item, "attempt") ?? 0,
});
const waiterOf = (item: Item): SlotWaiter => ({ since: str(item, "since"), ...holderOf(item) });

const countOf = (counter: Item | undefined, name: "held" | "waiting") => (counter && num(counter, name)) ?? 0;
const holdersOn = (counter: Item | undefined): string[] => counter?.holders?.SS ?? [];
/** The counter counts slots held by holder items of the release before (each gone once it is given back). */
const hasHolderItems = (counter: Item | undefined) => countOf(counter, "held") > holdersOn(counter).length;

/** Which of `count` waiters a give-back picks, on its `attempt`th try: spread by its own key, so concurrent ones differ. */
function spreadIndex(seed: string, attempt: number, count: number): number {
  const key = `${seed} ${attempt}`;
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (hash * 31 + key.charCodeAt(i)) >>> 0;
  return count === 0 ? 0 : hash % count;
}

/**
 * How a take treats the attempt's own waiter item: nobody waits, so it has none (the common case, one update);
 * it may have one, deleted with the take; it has none although others wait.
 */
type TakeMode = "noneWaiting" | "withWaiter" | "withoutWaiter";

/**
 * Each pipeline's slots are one partition (`SLOTS#<pipeline>`), none indexed: a counter (`COUNT`: `held`,
 * `waiting`, and `holders`, the string set of the keys (`slotKeyOf`) of the attempts holding a slot; the repair
 * finds it by the pipelines of the runs in flight) and one item per attempt waiting (`WAIT#<since>#...`, so a
 * query lists them oldest run first). A take and a give-back with nobody waiting are one conditional update of
 * the counter (`ADD held 1, holders :key` if there is room, nobody waits and the key is not there yet; `DELETE
 * holders :key ADD held -1` if it is there), so a repeated take counts once and a repeated give-back gives one.
 * Waiting and handing a slot on move the counter and a waiter item in one transaction, under the same conditions.
 *
 * The release before kept one item per holder (`HOLD#<run>#<task>#<attempt>`), counted in `held`: while any is
 * left (`held` above the size of `holders`), a take checks that its attempt has none (a transaction), a give-back
 * of an attempt not on the counter deletes its item, and the repair lists their keys with the counter's.
 */
export class TaskSlotRepository implements TaskSlots {
  /**
   * The pipelines whose attempts waited at this process's last look: a hint only (every write keeps its
   * conditions), so that in a burst a take goes straight to waiting rather than first trying the update for
   * nobody waiting, refused. A wrong hint costs a request.
   */
  private readonly crowded = new Set<string>();

  constructor(private readonly io: TableIO) {}

  keyOf(holder: SlotHolder): string {
    return slotKeyOf(holder);
  }

  private note(pipeline: string, counter: Item | undefined): void {
    if (countOf(counter, "waiting") > 0) this.crowded.add(pipeline);
    else this.crowded.delete(pipeline);
  }

  async take(
    pipeline: string,
    waiter: SlotWaiter,
    limit: number,
    hasWaited = false,
  ): Promise<{ taken: true } | { taken: false; holding: number }> {
    const counter = KEYS.slotCounter(pipeline);
    const key = slotKeyOf(waiter);
    let mode: TakeMode = "noneWaiting";
    let seen: Item | undefined;
    /** Whether holder items of the release before may be left: then each write checks this attempt has none. */
    let holderItems = false;
    if (hasWaited) {
      // An attempt that waited is most often taking a slot handed to it, or still waiting: one read (cheaper
      // than a write refused) of the counter and its waiter tells which, or how to take one.
      const found = await this.io.getMany([
        counter,
        KEYS.slotWaiter(pipeline, waiter),
        KEYS.slotHolder(pipeline, waiter),
      ]);
      const kind = (prefix: string) => found.find((item) => str(item, "sk").startsWith(prefix));
      seen = kind("COUNT");
      if (holdersOn(seen).includes(key) || kind("HOLD#")) return { taken: true };
      holderItems = hasHolderItems(seen);
      const waits = kind("WAIT#") !== undefined;
      // Still full, and its waiter is still queued (a give-back will see it): it goes on waiting.
      if (waits && countOf(seen, "held") >= limit) return { taken: false, holding: countOf(seen, "held") };
      mode = waits ? "withWaiter" : "withoutWaiter";
    }
    const holderCheck = (): TransactWrite[] =>
      holderItems ? [{ check: KEYS.slotHolder(pipeline, waiter), condition: itemAbsent }] : [];
    const notHeld = () => (holderItems ? holdingNone([key]) : allOf(holdingNone([key]), noHolderItems));
    /** What a refused write's counter says: held by this attempt, or holder items left (checked from now on). */
    const learn = (current: Item | undefined): "held" | undefined => {
      seen = current; // the counter when the condition failed (none: no counter yet)
      if (holdersOn(current).includes(key)) return "held";
      if (!holderItems && hasHolderItems(current)) holderItems = true;
      return undefined;
    };
    // Others waited at the last look: most likely it is full, and this attempt waits too.
    let full = !hasWaited && this.crowded.has(pipeline);
    for (let i = 0; i < TAKE_TRIES; i++) {
      if (full) {
        // Full: wait, in one step with seeing it full and not held by this attempt (so a slot given back after it
        // sees the waiter, and a waiter never outlives its hand-off). Room: take.
        const waited = await this.io.transactWrite([
          {
            update: counter,
            expression: countBy(pipeline, { waiting: 1 }),
            condition: allOf(heldAtLeast(limit), notHeld()),
          },
          { put: waiterItem(pipeline, waiter), condition: itemAbsent },
          ...holderCheck(),
        ]);
        if (waited.ok) {
          this.crowded.add(pipeline);
          return { taken: false, holding: countOf(seen, "held") || limit };
        }
        if (waited.failed[2]) return { taken: true }; // a holder item of the release before
        if (waited.failed[0]) {
          if (learn(waited.current[0]) === "held") return { taken: true };
          if (countOf(seen, "held") >= limit) continue; // it met holder items of the release before: again
          mode = waited.failed[1]
            ? "withWaiter"
            : countOf(seen, "waiting") > 0
              ? "withoutWaiter"
              : "noneWaiting";
          full = false;
          continue;
        }
        // Waiting already (a repeated take): counted once.
        return { taken: false, holding: countOf(seen, "held") || limit };
      }
      const condition =
        mode === "noneWaiting"
          ? allOf(heldAtMost(limit - 1), noneWaiting, notHeld())
          : allOf(heldAtMost(limit - 1), notHeld());
      const expression = countBy(pipeline, { held: 1, waiting: mode === "withWaiter" ? -1 : 0, take: [key] });
      if (mode !== "withWaiter" && !holderItems) {
        // The common case: one conditional update of the counter.
        const took = await this.io.update(counter, expression, condition);
        if (took.ok) {
          if (mode === "noneWaiting") this.crowded.delete(pipeline);
          return { taken: true };
        }
        if (learn(took.current) === "held") return { taken: true };
      } else {
        const took = await this.io.transactWrite([
          { update: counter, expression, condition },
          ...(mode === "withWaiter"
            ? [{ delete: KEYS.slotWaiter(pipeline, waiter), condition: itemExists }]
            : []),
          ...holderCheck(),
        ]);
        if (took.ok) return { taken: true };
        if (took.failed[took.failed.length - 1] && holderItems) return { taken: true };
        if (!took.failed[0]) {
          // Only its own waiter item was missing: others wait, it does not.
          mode = "withoutWaiter";
          continue;
        }
        if (learn(took.current[0]) === "held") return { taken: true };
      }
      if (countOf(seen, "held") < limit) {
        // Room, but others wait (or holder items of the release before are left): its waiter, if its run says it
        // has one, goes with the take.
        if (countOf(seen, "waiting") > 0) mode = hasWaited ? "withWaiter" : "withoutWaiter";
        continue;
      }
      full = true;
    }
    throw new RetryableError(
      `the slots of pipeline ${pipeline} changed under ${TAKE_TRIES} tries to take one`,
    );
  }

  /**
   * One update for all, when nobody waits, there is room for all and none holds one yet. Returns the attempts
   * holding a slot now: all of them, or, refused, those the counter already held (a repeated call); the caller
   * takes the others one by one. Not tried while the `crowded` hint says others wait.
   */
  async takeAll(pipeline: string, waiters: SlotWaiter[], limit: number): Promise<SlotWaiter[]> {
    if (waiters.length === 0 || waiters.length > MANY_AT_ONCE || this.crowded.has(pipeline)) return [];
    const keys = waiters.map(slotKeyOf);
    const took = await this.io.update(
      KEYS.slotCounter(pipeline),
      countBy(pipeline, { held: keys.length, take: keys }),
      allOf(heldAtMost(limit - keys.length), noneWaiting, holdingNone(keys), noHolderItems),
    );
    if (took.ok) return waiters;
    this.note(pipeline, took.current);
    const held = new Set(holdersOn(took.current));
    return waiters.filter((_, i) => held.has(keys[i] as string));
  }

  /**
   * One update for all, when each holds its slot; otherwise nothing (the caller gives them back one by one).
   * When attempts wait, the freed slots are handed to some of the oldest.
   */
  async releaseAll(
    pipeline: string,
    holders: SlotWaiter[],
    limit: number,
  ): Promise<{ released: false } | { released: true; handedTo: SlotWaiter[] }> {
    if (holders.length === 0 || holders.length > MANY_AT_ONCE) return { released: false };
    const keys = holders.map(slotKeyOf);
    const released = await this.io.updateAndRead(
      KEYS.slotCounter(pipeline),
      countBy(pipeline, { held: -keys.length, give: keys }),
      holdingAll(keys),
    );
    if (!released.ok) return { released: false };
    this.note(pipeline, released.item);
    const handedTo: SlotWaiter[] = [];
    if (countOf(released.item, "waiting") > 0)
      for (const [i, key] of keys.entries()) {
        const next = await this.passOne(pipeline, limit, `${key} ${i}`);
        if (next === "full") break;
        if (next) handedTo.push(next);
      }
    return { released: true, handedTo };
  }

  /**
   * One update: the attempt (or the holder's key, as `list` gives it) leaves `holders` if it is there. When
   * attempts wait, the freed slot is handed to one of the oldest (a read of at most PASS_SPREAD waiters and one
   * transaction); concurrent give-backs pick among those by their own key, so they rarely pick the same waiter,
   * and one that loses the race reads again. After PASS_TRIES lost races, or with the slots full again (taken by
   * a newcomer meanwhile, or the limit lowered), the slot stays free and the reconciler's repair hands it on.
   */
  async release(
    pipeline: string,
    holder: SlotWaiter | string,
    limit: number,
  ): Promise<{ handedTo?: SlotWaiter }> {
    const counter = KEYS.slotCounter(pipeline);
    const key = typeof holder === "string" ? holder : slotKeyOf(holder);
    const released = await this.io.updateAndRead(
      counter,
      countBy(pipeline, { held: -1, give: [key] }),
      holdingAll([key]),
    );
    let after: Item | undefined;
    if (released.ok) after = released.item;
    else {
      // Not on the counter: a holder item of the release before, or it holds no slot (given back already, or it
      // ended while it waited, and then it no longer waits either).
      const item = hasHolderItems(released.current) ? await this.holderItemOf(pipeline, holder) : undefined;
      if (item) {
        const dropped = await this.io.transactWrite([
          { delete: item, condition: itemExists },
          { update: counter, expression: countBy(pipeline, { held: -1 }) },
        ]);
        if (dropped.ok) after = released.current;
      }
      if (!after) {
        if (typeof holder !== "string" && countOf(released.current, "waiting") > 0)
          await this.unwaitOwn(pipeline, holder);
        return {};
      }
    }
    this.note(pipeline, after);
    if (countOf(after, "waiting") === 0) return {};
    const next = await this.passOne(pipeline, limit, key);
    return next && next !== "full" ? { handedTo: next } : {};
  }

  /** The holder item of the release before for this attempt (or key), if the partition holds one. */
  private async holderItemOf(pipeline: string, holder: SlotWaiter | string): Promise<Item | undefined> {
    if (typeof holder !== "string") return KEYS.slotHolder(pipeline, holder);
    const items = await this.holderItems(pipeline);
    const found = items.find((item) => slotKeyOf(holderOf(item)) === holder);
    return found && { pk: found.pk as Item[string], sk: found.sk as Item[string] };
  }

  /**
   * Hands one free slot to one of the oldest waiters: the waiter item deleted and its key added to `holders`
   * in one transaction, on the condition that there is room and it holds none yet. "full" when there is no room.
   */
  private async passOne(
    pipeline: string,
    limit: number,
    seed: string,
  ): Promise<SlotWaiter | "full" | undefined> {
    for (let i = 0; i < PASS_TRIES; i++) {
      // Read again after each lost race: the give-backs that won it served the others read with it, too.
      const oldest = await this.oldestWaiters(pipeline, PASS_SPREAD);
      const next = oldest[spreadIndex(seed, i, oldest.length)];
      if (!next) return undefined;
      const moved = await this.handOver(pipeline, [next], limit);
      if (moved.ok) return next;
      if (moved.failed[0]) {
        if (countOf(moved.current[0], "held") >= limit) return "full";
        // A waiter that holds a slot already (its hand-off raced its own take): it waits no longer.
        if (!moved.failed[1]) await this.unwait(pipeline, [next]);
      }
    }
    return undefined;
  }

  /** Gives slots to `waiters` in one transaction: each leaves the waiters for `holders`, if there is room for all. */
  private handOver(pipeline: string, waiters: SlotWaiter[], limit: number) {
    const keys = waiters.map(slotKeyOf);
    return this.io.transactWrite([
      {
        update: KEYS.slotCounter(pipeline),
        expression: countBy(pipeline, { held: keys.length, waiting: -keys.length, take: keys }),
        condition: allOf(heldAtMost(limit - keys.length), holdingNone(keys)),
      },
      ...waiters.map((w) => ({ delete: KEYS.slotWaiter(pipeline, w), condition: itemExists })),
    ]);
  }

  /** Removes the attempt's own waiter item, if it has one, and counts it. */
  private async unwaitOwn(pipeline: string, waiter: SlotWaiter): Promise<void> {
    await this.io.transactWrite([
      { delete: KEYS.slotWaiter(pipeline, waiter), condition: itemExists },
      { update: KEYS.slotCounter(pipeline), expression: countBy(pipeline, { waiting: -1 }) },
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
      { update: KEYS.slotCounter(pipeline), expression: countBy(pipeline, { waiting: -waiters.length }) },
    ]);
    return removed.ok ? { ok: true } : { ok: false, current: await this.read(pipeline) };
  }

  /**
   * One transaction per 99 waiters (DynamoDB's 100 writes): each chunk is all or nothing, and the room is checked
   * per chunk. The repair hands out what its look found free, rarely more than a chunk; when a later chunk fails,
   * the earlier ones hold their slots and their runs submit at the reconciler's next look.
   */
  async handOff(
    pipeline: string,
    waiters: SlotWaiter[],
    limit: number,
  ): Promise<{ ok: true } | { ok: false; current?: PipelineSlots }> {
    for (let i = 0; i < waiters.length; i += HAND_OFF_CHUNK) {
      const handed = await this.handOver(pipeline, waiters.slice(i, i + HAND_OFF_CHUNK), limit);
      if (!handed.ok) return { ok: false, current: await this.read(pipeline) };
    }
    return { ok: true };
  }

  /** Records the keys the repair found held by no attempt in flight (`suspects`), for its next look. */
  async suspect(pipeline: string, keys: string[]): Promise<void> {
    await this.io.update(
      KEYS.slotCounter(pipeline),
      keys.length > 0
        ? update("SET #suspects = :suspects", { "#suspects": "suspects" }, { ":suspects": { SS: keys } })
        : update("REMOVE #suspects", { "#suspects": "suspects" }, {}),
      itemExists,
    );
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
    const slots: PipelineSlots = { pipeline, holders: [], waiting: [], suspects: [] };
    let counter: Item | undefined;
    for (const item of items) {
      schemaOf(item);
      const sk = str(item, "sk");
      if (sk === "COUNT") {
        counter = item;
        slots.holders.push(...holdersOn(item));
        slots.suspects = item.suspects?.SS ?? [];
      } else if (sk.startsWith("HOLD#")) slots.holders.push(slotKeyOf(holderOf(item)));
      else if (sk.startsWith("WAIT#")) slots.waiting.push(waiterOf(item));
    }
    return { slots, ...(counter && { counter }) };
  }

  /** The holder items of the release before left in the pipeline's partition. */
  private async holderItems(pipeline: string): Promise<Item[]> {
    return (await this.partition(pipeline, "HOLD#", Number.POSITIVE_INFINITY)).map((item) => {
      schemaOf(item);
      return item;
    });
  }

  /** At most `limit` of the pipeline's oldest waiters (a consistent query of the waiter items alone). */
  private async oldestWaiters(pipeline: string, limit: number): Promise<SlotWaiter[]> {
    return (await this.partition(pipeline, "WAIT#", limit)).map(waiterOf);
  }

  private async partition(pipeline: string, prefix: string, limit: number): Promise<Item[]> {
    const { items } = await this.io.query(
      {
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: {
          ":pk": KEYS.slotCounter(pipeline).pk as Item[string],
          ":prefix": S(prefix),
        },
        ConsistentRead: true,
      },
      limit,
    );
    return items;
  }

  /**
   * A pipeline's slots as the release two before this one kept them (one item, string sets `holders` and
   * `waiting` of "<run> <task> <attempt>", waiters prefixed by their run's creation time): rewritten once, by
   * the repair's first look, then deleted. A holder is counted whatever the limit (it holds its slot).
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
        { update: KEYS.slotCounter(pipeline), expression: countBy(pipeline, { waiting: 1 }) },
      ]);
    }
    await this.io.delete(KEYS.taskSlotsLegacy(pipeline));
  }
}
