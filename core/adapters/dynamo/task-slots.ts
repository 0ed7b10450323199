import { createHash } from "node:crypto";
import { RetryableError } from "../../errors.js";
import type { PipelineSlots, SlotHolder, SlotWaiter, TaskSlots } from "../../ports.js";
import { allOf, type Expression, itemAbsent, update } from "./conditions.js";
import { type Item, KEYS, N, num, S, SCHEMA_ATTRIBUTE, SCHEMA_VERSION, schemaOf, str } from "./items.js";
import { INDEX } from "./table.js";
import type { TableIO, TransactWrite } from "./table-io.js";

const COLLECTION = "SLOTS";
/** A take that finds the slots full, then free again once it waits, tries again this many times. */
const TAKE_TRIES = 8;
/** A transaction holds at most 100 writes: a hand-off writes the counter plus one waiter item per waiter. */
const HAND_OFF_CHUNK = 99;
/** A give-back that finds attempts waiting tries this many times to hand its freed slot to one of them. */
const PASS_TRIES = 5;
/** ...choosing among this many of the oldest (two read units), so that concurrent give-backs rarely collide. */
const PASS_SPREAD = 32;
/** At most this many keys in one update of `takeAll` or `releaseAll`: a condition expression is at most 4 KB. */
const KEYS_AT_ONCE = 40;

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
/**
 * The two sets of holders' keys: a slot moved from one attempt to another leaves one set for the other, as
 * DynamoDB updates an attribute once a request (`DELETE holders :a ADD holders :b` is refused).
 */
type KeySet = "holders" | "handed";
const SETS = { "#holders": "holders", "#handed": "handed" };
const keyValues = (keys: string[], prefix: string): Item =>
  Object.fromEntries(keys.map((k, i) => [`:${prefix}${i}`, S(k)]));
/** `clause` for each key, ANDed (each in parentheses when there are several: DynamoDB refuses redundant ones). */
const everyKey = (keys: string[], prefix: string, clause: (placeholder: string) => string) =>
  keys
    .map((_, i) => (keys.length > 1 ? `(${clause(`:${prefix}${i}`)})` : clause(`:${prefix}${i}`)))
    .join(" AND ");
/** None of `keys` holds a slot on the counter. */
const holdingNone = (keys: string[]) =>
  update(
    everyKey(keys, "t", (k) => `NOT contains(#holders, ${k}) AND NOT contains(#handed, ${k})`),
    SETS,
    keyValues(keys, "t"),
  );
/** Each of `keys` holds a slot on the counter (in `set`, when given). */
const holdingAll = (keys: string[], set?: KeySet) =>
  update(
    everyKey(keys, "g", (k) =>
      set ? `contains(#${set}, ${k})` : `contains(#holders, ${k}) OR contains(#handed, ${k})`,
    ),
    set ? { [`#${set}`]: set } : SETS,
    keyValues(keys, "g"),
  );
/**
 * Every slot held is on the counter (`held` equals `keyed`, the keys in its sets): no holder item of the release
 * before is left, so "not on the counter" means "holds no slot".
 */
const noHolderItems = update(
  "attribute_not_exists(#held) OR #held = :none OR #held = #keyed",
  { "#held": "held", "#keyed": "keyed" },
  { ":none": N(0) },
);
/** No room for a newcomer: the slots are full, or others wait for one (first come, first served). */
const fullOrQueued = (limit: number) =>
  update(
    "#held >= :limit OR #waiting > :none",
    { "#held": "held", "#waiting": "waiting" },
    { ":limit": N(limit), ":none": N(0) },
  );
const heldAtMost = (max: number) =>
  update("attribute_not_exists(#held) OR #held <= :heldMax", { "#held": "held" }, { ":heldMax": N(max) });
/** Nobody waits (a counter written before `waiting` was kept counts as nobody: the repair counts them). */
const noneWaiting = update(
  "attribute_not_exists(#waiting) OR #waiting = :none",
  { "#waiting": "waiting" },
  { ":none": N(0) },
);

/**
 * The counter's update: adds to `held` and `waiting`, adds keys to one set and removes keys from sets (never one
 * set both ways: DynamoDB updates an attribute once a request), counts the keys on it (`keyed`) and the write
 * (`writes`, so the repair can tell that nothing moved between its read and its correction), (re)writes its
 * pipeline and schema, and takes a counter written before out of byCollection (an index copy of every write
 * cost as much as the write).
 */
function countBy(
  pipeline: string,
  move: {
    held?: number;
    waiting?: number;
    add?: { to: KeySet; keys: string[] };
    remove?: { from: KeySet[]; keys: string[] };
  },
): Expression {
  const { held = 0, waiting = 0, add, remove } = move;
  const adds = ["#held :held", "#waiting :waiting", "#writes :one"];
  const deletes: string[] = [];
  const names: Record<string, string> = {
    "#pipeline": "pipeline",
    "#ck": INDEX.byCollection.pk,
    "#cs": INDEX.byCollection.sk,
    "#schema": SCHEMA_ATTRIBUTE,
    "#held": "held",
    "#waiting": "waiting",
    "#writes": "writes",
  };
  const values: Item = {
    ":one": N(1),
    ":held": N(held),
    ":waiting": N(waiting),
    ":pipeline": S(pipeline),
    ":schema": N(SCHEMA_VERSION),
  };
  const keyed = (add?.keys.length ?? 0) - (remove?.keys.length ?? 0);
  if (add || remove) {
    adds.push("#keyed :keyed");
    names["#keyed"] = "keyed";
    values[":keyed"] = N(keyed);
  }
  if (add && add.keys.length > 0) {
    adds.push(`#${add.to} :add`);
    names[`#${add.to}`] = add.to;
    values[":add"] = { SS: add.keys };
  }
  if (remove && remove.keys.length > 0) {
    for (const set of remove.from) {
      deletes.push(`#${set} :remove`);
      names[`#${set}`] = set;
    }
    values[":remove"] = { SS: remove.keys };
  }
  return update(
    `SET #pipeline = :pipeline, #schema = :schema ADD ${adds.join(", ")}${deletes.length > 0 ? ` DELETE ${deletes.join(", ")}` : ""} REMOVE #ck, #cs`,
    names,
    values,
  );
}
const BOTH: KeySet[] = ["holders", "handed"];

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
const holdersOn = (counter: Item | undefined): string[] => [
  ...(counter?.holders?.SS ?? []),
  ...(counter?.handed?.SS ?? []),
];
const setOf = (counter: Item | undefined, key: string): KeySet | undefined =>
  counter?.holders?.SS?.includes(key) ? "holders" : counter?.handed?.SS?.includes(key) ? "handed" : undefined;
/** The counter counts slots held by holder items of the release before (each gone once it is given back). */
const hasHolderItems = (counter: Item | undefined) =>
  countOf(counter, "held") > ((counter && num(counter, "keyed")) ?? 0);

/** Which of `count` waiters a give-back picks, on its `attempt`th try: spread by its own key, so concurrent ones differ. */
function spreadIndex(seed: string, attempt: number, count: number): number {
  const key = `${seed} ${attempt}`;
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (hash * 31 + key.charCodeAt(i)) >>> 0;
  return count === 0 ? 0 : hash % count;
}

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
    /** Whether the attempt has a waiter item (it takes room then, whoever else waits, and deletes it). */
    let waits = false;
    let seen: Item | undefined;
    /** Whether holder items of the release before may be left: then each write checks this attempt has none. */
    let holderItems = false;
    if (hasWaited) {
      // An attempt that waited is most often taking a slot handed to it, or still waiting: one read (cheaper
      // than a write refused) of the counter and its waiter tells which, or how to take one.
      const found = await this.io.getMany([counter, KEYS.slotWaiter(pipeline, waiter)]);
      const kind = (prefix: string) => found.find((item) => str(item, "sk").startsWith(prefix));
      seen = kind("COUNT");
      if (holdersOn(seen).includes(key)) return { taken: true };
      // A holder item of the release before is checked for by the take below (a waiter has none).
      holderItems = hasHolderItems(seen);
      waits = kind("WAIT#") !== undefined;
      // Still full, and its waiter is still queued (a give-back will see it): it goes on waiting.
      if (waits && countOf(seen, "held") >= limit) return { taken: false, holding: countOf(seen, "held") };
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
    // Others waited at the last look: most likely this attempt waits too.
    let wait = !hasWaited && this.crowded.has(pipeline);
    for (let i = 0; i < TAKE_TRIES; i++) {
      if (wait) {
        // Full, or others wait (first come, first served): wait, in one step with seeing it so and not held by
        // this attempt (a slot given back after it sees the waiter; a waiter never outlives its hand-off).
        const waited = await this.io.transactWrite([
          {
            update: counter,
            expression: countBy(pipeline, { waiting: 1 }),
            condition: allOf(fullOrQueued(limit), notHeld()),
          },
          { put: waiterItem(pipeline, waiter), condition: itemAbsent },
          ...holderCheck(),
        ]);
        if (waited.ok) {
          this.crowded.add(pipeline);
          return { taken: false, holding: countOf(seen, "held") || limit };
        }
        if (waited.failed[2]) return { taken: true }; // a holder item of the release before
        if (!waited.failed[0]) return { taken: false, holding: countOf(seen, "held") || limit }; // waits already
        if (learn(waited.current[0]) === "held") return { taken: true };
        waits = waited.failed[1] === true;
        wait = countOf(seen, "held") >= limit || (countOf(seen, "waiting") > 0 && !waits);
        continue;
      }
      const condition = waits
        ? allOf(heldAtMost(limit - 1), notHeld())
        : allOf(heldAtMost(limit - 1), noneWaiting, notHeld());
      const expression = countBy(pipeline, {
        held: 1,
        waiting: waits ? -1 : 0,
        add: { to: "holders", keys: [key] },
      });
      if (!waits && !holderItems) {
        // The common case: one conditional update of the counter.
        const took = await this.io.update(counter, expression, condition);
        if (took.ok) {
          this.crowded.delete(pipeline);
          return { taken: true };
        }
        if (learn(took.current) === "held") return { taken: true };
      } else {
        const took = await this.io.transactWrite([
          { update: counter, expression, condition },
          ...(waits ? [{ delete: KEYS.slotWaiter(pipeline, waiter), condition: itemExists }] : []),
          ...holderCheck(),
        ]);
        if (took.ok) return { taken: true };
        if (holderItems && took.failed[took.failed.length - 1]) return { taken: true };
        if (!took.failed[0]) {
          waits = false; // its waiter item is gone (unwaited): a newcomer again
          continue;
        }
        if (learn(took.current[0]) === "held") return { taken: true };
      }
      // Refused: full, or others wait, or it met holder items of the release before (then it tries again).
      wait = countOf(seen, "held") >= limit || (countOf(seen, "waiting") > 0 && !waits);
    }
    throw new RetryableError(
      `the slots of pipeline ${pipeline} changed under ${TAKE_TRIES} tries to take one`,
    );
  }

  /**
   * One update for all (per KEYS_AT_ONCE), when nobody waits, there is room for all and none holds one yet.
   * Returns the attempts holding a slot now: all of them, or, refused, those taken by the updates before and those
   * the counter already held (a repeated call); the caller takes the others one by one. Not tried while the
   * `crowded` hint says others wait.
   */
  async takeAll(pipeline: string, waiters: SlotWaiter[], limit: number): Promise<SlotWaiter[]> {
    if (waiters.length === 0 || this.crowded.has(pipeline)) return [];
    const holding: SlotWaiter[] = [];
    for (let i = 0; i < waiters.length; i += KEYS_AT_ONCE) {
      const chunk = waiters.slice(i, i + KEYS_AT_ONCE);
      const keys = chunk.map(slotKeyOf);
      const took = await this.io.update(
        KEYS.slotCounter(pipeline),
        countBy(pipeline, { held: keys.length, add: { to: "holders", keys } }),
        allOf(heldAtMost(limit - keys.length), noneWaiting, holdingNone(keys), noHolderItems),
      );
      if (took.ok) {
        holding.push(...chunk);
        continue;
      }
      this.note(pipeline, took.current);
      const held = new Set(holdersOn(took.current));
      return [...holding, ...waiters.slice(i).filter((w) => held.has(slotKeyOf(w)))];
    }
    return holding;
  }

  /**
   * One update for all (per KEYS_AT_ONCE), when nobody waits and each holds its slot. Returns those given back;
   * the caller gives the others back one by one (handing them to waiters). Not tried while the `crowded` hint
   * says others wait.
   */
  async releaseAll(pipeline: string, holders: SlotWaiter[]): Promise<SlotWaiter[]> {
    if (this.crowded.has(pipeline)) return [];
    const released: SlotWaiter[] = [];
    for (let i = 0; i < holders.length; i += KEYS_AT_ONCE) {
      const chunk = holders.slice(i, i + KEYS_AT_ONCE);
      const keys = chunk.map(slotKeyOf);
      const left = await this.io.update(
        KEYS.slotCounter(pipeline),
        countBy(pipeline, { held: -keys.length, remove: { from: BOTH, keys } }),
        allOf(holdingAll(keys), noneWaiting),
      );
      if (!left.ok) {
        this.note(pipeline, left.current);
        break;
      }
      released.push(...chunk);
    }
    return released;
  }

  /**
   * One update when nobody waits: the attempt (or the holder's key, as `list` gives it) leaves the counter, if it
   * is there. When attempts wait (that update refused, or the `crowded` hint), the slot moves to one of the
   * oldest: a read of at most PASS_SPREAD waiters and one transaction (the waiter's item deleted, the attempt's
   * key swapped for the waiter's on the counter, `held` unchanged), on the condition that the attempt holds its
   * slot and no more than `limit` are held. Concurrent give-backs pick among the oldest by their own key, so they
   * rarely pick the same waiter; one that loses the race tries another of those it read (and reads again once it
   * tried them all). After PASS_TRIES lost races, or with more held than `limit` (lowered since), the slot is
   * freed and the reconciler's repair hands it on.
   */
  async release(
    pipeline: string,
    holder: SlotWaiter | string,
    limit: number,
  ): Promise<{ handedTo?: SlotWaiter }> {
    const counter = KEYS.slotCounter(pipeline);
    const key = typeof holder === "string" ? holder : slotKeyOf(holder);
    /** The holder item of the release before by which the attempt holds its slot, once found so. */
    let item: Item | undefined;
    /** The set its key is in, as far as known: a slot taken is in `holders`, one handed on in `handed`. */
    let own: KeySet = "holders";
    const leave = (condition?: Expression) =>
      item
        ? this.io.transactWrite([
            { delete: item, condition: itemExists },
            { update: counter, expression: countBy(pipeline, { held: -1 }), ...(condition && { condition }) },
          ])
        : this.io.update(
            counter,
            countBy(pipeline, { held: -1, remove: { from: BOTH, keys: [key] } }),
            condition ? allOf(holdingAll([key]), condition) : holdingAll([key]),
          );
    // Others waited at the last look: read the waiters first rather than try the update for nobody waiting.
    let readFirst = this.crowded.has(pipeline);
    let oldest: SlotWaiter[] = [];
    /** The waiter to try again, its slot's key found in the other set. */
    let again: SlotWaiter | undefined;
    for (let i = 0; i < PASS_TRIES; i++) {
      if (!readFirst) {
        const left = await leave(noneWaiting);
        if (left.ok) {
          this.crowded.delete(pipeline);
          return {};
        }
        if ("failed" in left) {
          if (left.failed[0]) return {}; // its holder item is gone: given back already
        } else if (!holdersOn(left.current).includes(key)) {
          // Not on the counter: a holder item of the release before, or it holds no slot (given back already, or
          // it ended while it waited, and then it no longer waits either).
          item = hasHolderItems(left.current) ? await this.holderItemOf(pipeline, holder) : undefined;
          if (item) continue;
          if (typeof holder !== "string" && countOf(left.current, "waiting") > 0)
            await this.unwaitOwn(pipeline, holder);
          return {};
        } else own = setOf(left.current, key) ?? own;
        this.crowded.add(pipeline);
        readFirst = true;
      }
      // After a lost race, the next of those read; read again once they are all tried.
      if (oldest.length === 0 && !again) {
        const read = await this.queue(pipeline, PASS_SPREAD);
        oldest = read.waiters;
        // Which set its key is in (a slot handed on is in the other): the counter comes with the read.
        const where = setOf(read.counter, key);
        if (!item && !where) {
          readFirst = false; // not on the counter: the update for nobody waiting tells why
          oldest = [];
          continue;
        }
        own = where ?? own;
      }
      const next = again ?? oldest.splice(spreadIndex(key, i, oldest.length), 1)[0];
      again = undefined;
      if (!next) {
        readFirst = false; // nobody waits now: leave, on the condition that it stays so
        continue;
      }
      const nextKey = slotKeyOf(next);
      const other: KeySet = own === "holders" ? "handed" : "holders";
      const moved = await this.io.transactWrite([
        item
          ? {
              update: counter,
              expression: countBy(pipeline, { waiting: -1, add: { to: "holders", keys: [nextKey] } }),
              condition: allOf(heldAtMost(limit), holdingNone([nextKey])),
            }
          : {
              update: counter,
              expression: countBy(pipeline, {
                waiting: -1,
                add: { to: other, keys: [nextKey] },
                remove: { from: [own], keys: [key] },
              }),
              condition: allOf(heldAtMost(limit), holdingNone([nextKey]), holdingAll([key], own)),
            },
        { delete: KEYS.slotWaiter(pipeline, next), condition: itemExists },
        ...(item ? [{ delete: item, condition: itemExists }] : []),
      ]);
      if (moved.ok) return { handedTo: next };
      if (moved.failed[2]) return {}; // its holder item is gone: given back already
      if (moved.failed[0]) {
        const current = moved.current[0];
        const where: KeySet | undefined = item ? own : setOf(current, key);
        if (!where) {
          readFirst = false; // not on the counter: the update for nobody waiting tells why
          continue;
        }
        if (where !== own) {
          own = where;
          again = next;
          continue;
        }
        if (countOf(current, "held") > limit) break; // more held than the limit allows now
        // A waiter that holds a slot already (its hand-off raced its own take): it waits no longer.
        if (holdersOn(current).includes(nextKey) && !moved.failed[1]) await this.unwait(pipeline, [next]);
      }
    }
    await leave();
    return {};
  }

  /** The holder item of the release before for this attempt (or key), if the partition holds one. */
  private async holderItemOf(pipeline: string, holder: SlotWaiter | string): Promise<Item | undefined> {
    if (typeof holder !== "string") return KEYS.slotHolder(pipeline, holder);
    const items = await this.holderItems(pipeline);
    const found = items.find((item) => slotKeyOf(holderOf(item)) === holder);
    return found && { pk: found.pk as Item[string], sk: found.sk as Item[string] };
  }

  /** Gives slots to `waiters` in one transaction: each leaves the waiters for `holders`, if there is room for all. */
  private handOver(pipeline: string, waiters: SlotWaiter[], limit: number) {
    const keys = waiters.map(slotKeyOf);
    return this.io.transactWrite([
      {
        update: KEYS.slotCounter(pipeline),
        expression: countBy(pipeline, {
          held: keys.length,
          waiting: -keys.length,
          add: { to: "holders", keys },
        }),
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

  /**
   * The counter and at most `limit` of the pipeline's oldest waiters, in one consistent query (the counter's sort
   * key `COUNT` comes first; holder items of the release before, between them, take from the limit).
   */
  private async queue(pipeline: string, limit: number): Promise<{ counter?: Item; waiters: SlotWaiter[] }> {
    const { items } = await this.io.query(
      {
        KeyConditionExpression: "pk = :pk AND sk >= :count",
        ExpressionAttributeValues: {
          ":pk": KEYS.slotCounter(pipeline).pk as Item[string],
          ":count": KEYS.slotCounter(pipeline).sk as Item[string],
        },
        ConsistentRead: true,
      },
      limit + 1,
    );
    const counter = items.find((item) => str(item, "sk") === "COUNT");
    const waiters = items.filter((item) => str(item, "sk").startsWith("WAIT#")).map(waiterOf);
    return { ...(counter && { counter }), waiters };
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
