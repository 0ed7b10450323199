import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { RetryableError } from "../../errors.js";
import type { PipelineSlots, SlotHolder, SlotWaiter, TaskSlots } from "../../ports.js";
import { allOf, type Expression, update } from "./conditions.js";
import { type Item, KEYS, N, S, SCHEMA_ATTRIBUTE, SCHEMA_VERSION, schemaOf, str } from "./items.js";
import { INDEX } from "./table.js";
import type { TableIO } from "./table-io.js";

const COLLECTION = "SLOTS";
/** A take that finds the slots full, then free again before it could wait, tries again this many times. */
const TAKE_TRIES = 5;

const holderOf = (h: SlotHolder) => `${h.runId} ${h.task} ${h.attempt}`;
/** Waiters sort by their run's creation time first: the oldest run is served first. */
const waiterOf = (w: SlotWaiter) => `${w.since} ${holderOf(w)}`;
const SS = (values: string[]): AttributeValue => ({ SS: values });

function parseHolder(text: string): SlotHolder {
  const [runId = "", task = "", attempt = "0"] = text.split(" ");
  return { runId, task, attempt: Number(attempt) };
}

function fromItem(item: Item): PipelineSlots {
  schemaOf(item);
  return {
    pipeline: str(item, "pipeline"),
    holders: (item.holders?.SS ?? []).map(parseHolder),
    waiting: (item.waiting?.SS ?? []).sort().map((text) => {
      const [since = "", ...rest] = text.split(" ");
      return { since, ...parseHolder(rest.join(" ")) };
    }),
  };
}

const heldCount = (item: Item | undefined) => item?.holders?.SS?.length ?? 0;

/**
 * One item per pipeline (`SLOTS#<pipeline>`): `holders`, a string set of the attempts holding a slot, and
 * `waiting`, those waiting for one. Sets make every call exact and idempotent: ADD and DELETE of a member that
 * is (or is not) there change nothing, and `size(holders)` is the count the take's condition checks. Apart from
 * the run items (whose layout may change) on purpose; listed through byCollection (SLOTS / <pipeline>) for the
 * reconciler's repair.
 */
export class TaskSlotRepository implements TaskSlots {
  constructor(private readonly io: TableIO) {}

  async take(
    pipeline: string,
    waiter: SlotWaiter,
    limit: number,
  ): Promise<{ taken: true } | { taken: false; holding: number }> {
    const key = KEYS.taskSlots(pipeline);
    const values = { ":holder": SS([holderOf(waiter)]), ":holderOne": S(holderOf(waiter)), ":max": N(limit) };
    for (let i = 0; i < TAKE_TRIES; i++) {
      const took = await this.io.update(
        key,
        this.stamped(pipeline, "ADD holders :holder DELETE waiting :waiter", {
          ":holder": values[":holder"],
          ":waiter": SS([waiterOf(waiter)]),
        }),
        update(
          "attribute_not_exists(holders) OR size(holders) < :max OR contains(holders, :holderOne)",
          {},
          { ":max": values[":max"], ":holderOne": values[":holderOne"] },
        ),
      );
      if (took.ok) return { taken: true };
      // Full, and already waiting (as the item was when the condition failed): a slot given back will see us.
      if (took.current?.waiting?.SS?.includes(waiterOf(waiter)))
        return { taken: false, holding: heldCount(took.current) };
      // Full: wait, on the condition that it still is (else a slot given back meanwhile would not see us).
      const waited = await this.io.update(
        key,
        update("ADD waiting :waiter", {}, { ":waiter": SS([waiterOf(waiter)]) }),
        update(
          "size(holders) >= :max AND NOT contains(holders, :holderOne)",
          {},
          { ":max": values[":max"], ":holderOne": values[":holderOne"] },
        ),
      );
      if (waited.ok) return { taken: false, holding: heldCount(took.current) };
    }
    throw new RetryableError(
      `the slots of pipeline ${pipeline} changed under ${TAKE_TRIES} tries to take one`,
    );
  }

  async release(pipeline: string, waiter: SlotWaiter): Promise<PipelineSlots | undefined> {
    const released = await this.io.updateAndRead(
      KEYS.taskSlots(pipeline),
      update(
        "DELETE holders :holder, waiting :waiter",
        {},
        { ":holder": SS([holderOf(waiter)]), ":waiter": SS([waiterOf(waiter)]) },
      ),
      // No record: nothing was ever taken, and an update would create an empty one.
      update("attribute_exists(pk)", {}, {}),
    );
    return released.ok && released.item ? fromItem(released.item) : undefined;
  }

  async unwait(
    pipeline: string,
    waiters: SlotWaiter[],
  ): Promise<{ ok: true } | { ok: false; current?: PipelineSlots }> {
    if (waiters.length === 0) return { ok: true };
    const names = waiters.map(waiterOf);
    const each: Expression[] = names.map((name, i) =>
      update(`contains(waiting, :w${i})`, {}, { [`:w${i}`]: S(name) }),
    );
    const removed = await this.io.update(
      KEYS.taskSlots(pipeline),
      update("DELETE waiting :picked", {}, { ":picked": SS(names) }),
      allOf(...each),
    );
    return removed.ok ? { ok: true } : { ok: false, current: removed.current && fromItem(removed.current) };
  }

  async handOff(
    pipeline: string,
    waiters: SlotWaiter[],
    limit: number,
  ): Promise<{ ok: true } | { ok: false; current?: PipelineSlots }> {
    if (waiters.length === 0) return { ok: true };
    const names = waiters.map(waiterOf);
    const each: Expression[] = names.map((name, i) =>
      update(`contains(waiting, :w${i})`, {}, { [`:w${i}`]: S(name) }),
    );
    const handed = await this.io.update(
      KEYS.taskSlots(pipeline),
      update(
        "ADD holders :holders DELETE waiting :picked",
        {},
        { ":holders": SS(waiters.map(holderOf)), ":picked": SS(names) },
      ),
      allOf(
        update(
          "attribute_not_exists(holders) OR size(holders) <= :cap",
          {},
          { ":cap": N(limit - waiters.length) },
        ),
        ...each,
      ),
    );
    return handed.ok ? { ok: true } : { ok: false, current: handed.current && fromItem(handed.current) };
  }

  async list(): Promise<PipelineSlots[]> {
    const { items } = await this.io.query(
      {
        IndexName: INDEX.byCollection.name,
        KeyConditionExpression: "#pk = :pk",
        ExpressionAttributeNames: { "#pk": INDEX.byCollection.pk },
        ExpressionAttributeValues: { ":pk": S(COLLECTION) },
      },
      Number.POSITIVE_INFINITY,
    );
    return items.map(fromItem);
  }

  /** An update that also (re)writes what every slot record carries: its pipeline, index keys and schema. */
  private stamped(pipeline: string, expression: string, values: Item): Expression {
    return update(
      `SET #pipeline = :pipeline, #ck = :collection, #cs = :pipeline, #schema = :schema ${expression}`,
      {
        "#pipeline": "pipeline",
        "#ck": INDEX.byCollection.pk,
        "#cs": INDEX.byCollection.sk,
        "#schema": SCHEMA_ATTRIBUTE,
      },
      { ...values, ":pipeline": S(pipeline), ":collection": S(COLLECTION), ":schema": N(SCHEMA_VERSION) },
    );
  }
}
