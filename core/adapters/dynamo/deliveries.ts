import type { Provider, Run } from "../../model/index.js";
import type { Clock, DeliveredBody, DeliveryRecord, DeliveryStore } from "../../ports.js";
import { anyOf, deliveryIs, expiredBefore, itemAbsent, update } from "./conditions.js";
import {
  type Item,
  isExpired,
  KEYS,
  N,
  S,
  SCHEMA_ATTRIBUTE,
  SCHEMA_VERSION,
  schemaAttribute,
  schemaOf,
  str,
  TTL_ATTRIBUTE,
} from "./items.js";
import { putNewRuns } from "./run-items.js";
import type { TableIO } from "./table-io.js";

/** A delivery record's attribute per run: `run_<id>` = pipeline. */
const RUN_ATTRIBUTE = "run_";

type RunRef = { id: string; pipeline: string };
const byPipeline = (x: RunRef, y: RunRef) => x.pipeline.localeCompare(y.pipeline);

/**
 * Webhook deliveries: the runs each delivery id made (written by the scheduler as it starts them), and the
 * delivery that first brought each body, both kept for the delivery TTL.
 */
export class DeliveryRepository implements DeliveryStore {
  constructor(
    private readonly io: TableIO,
    private readonly ttlSeconds: number,
    private readonly clock: Clock,
  ) {}

  async createRuns(runs: Run[]): Promise<boolean[]> {
    return (await putNewRuns(this.io, runs)).map((hash) => hash !== undefined);
  }

  async getDelivery(provider: Provider, id: string): Promise<DeliveryRecord | undefined> {
    const item = await this.io.get(KEYS.delivery(provider, id));
    if (!item || isExpired(item, this.clock.now())) return undefined;
    schemaOf(item);
    const runs = Object.entries(item)
      .filter(([name]) => name.startsWith(RUN_ATTRIBUTE))
      .map(([name, value]) => ({ id: name.slice(RUN_ATTRIBUTE.length), pipeline: value.S ?? "" }))
      .sort(byPipeline);
    return { provider, id, runs, receivedAt: str(item, "receivedAt") };
  }

  async noteDelivery(provider: Provider, id: string, run: RunRef, receivedAt: string): Promise<void> {
    // One attribute per run, so that notes from each run of a delivery (in any order, repeated) add up.
    await this.io.update(
      KEYS.delivery(provider, id),
      update(
        "SET #run = :pipeline, #schema = :schema, receivedAt = if_not_exists(receivedAt, :received), #ttl = if_not_exists(#ttl, :ttl)",
        { "#run": `${RUN_ATTRIBUTE}${run.id}`, "#schema": SCHEMA_ATTRIBUTE, "#ttl": TTL_ATTRIBUTE },
        {
          ":pipeline": S(run.pipeline),
          ":schema": N(SCHEMA_VERSION),
          ":received": S(receivedAt),
          ":ttl": N(this.expiresAt(receivedAt)),
        },
      ),
    );
  }

  /**
   * One conditional write: the body is free (never seen, or its record expired) or already held by this delivery
   * id (the git host's own redelivery, whose runs replace the list). Otherwise DynamoDB returns the holder.
   */
  async claimBody(provider: Provider, sha256: string, delivery: DeliveredBody): Promise<DeliveredBody> {
    const nowSeconds = Math.floor(Date.parse(delivery.receivedAt) / 1000);
    const written = await this.io.put(
      {
        ...KEYS.body(provider, sha256),
        ...schemaAttribute(),
        deliveryId: S(delivery.id),
        runs: S(JSON.stringify([...delivery.runs].sort(byPipeline))),
        receivedAt: S(delivery.receivedAt),
        [TTL_ATTRIBUTE]: N(this.expiresAt(delivery.receivedAt)),
      },
      anyOf(itemAbsent, deliveryIs(delivery.id), expiredBefore(nowSeconds)),
    );
    if (written.ok) return delivery;
    if (!written.current) throw new Error(`body ${sha256} was refused, and DynamoDB returned no holder`);
    return bodyFromItem(written.current);
  }

  private expiresAt(receivedAt: string): number {
    return Math.floor(Date.parse(receivedAt) / 1000) + this.ttlSeconds;
  }
}

function bodyFromItem(item: Item): DeliveredBody {
  schemaOf(item);
  return {
    id: str(item, "deliveryId"),
    runs: JSON.parse(str(item, "runs") || "[]") as RunRef[],
    receivedAt: str(item, "receivedAt"),
  };
}
