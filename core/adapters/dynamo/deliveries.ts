import type { Provider, Run } from "../../model/index.js";
import type { DeliveredBody, DeliveryStore } from "../../ports.js";
import { anyOf, deliveryIs, expiredBefore, itemAbsent } from "./conditions.js";
import { type Item, KEYS, N, S, schemaAttribute, schemaOf, str, TTL_ATTRIBUTE } from "./items.js";
import { putNewRuns } from "./run-items.js";
import type { TableIO } from "./table-io.js";

type RunRef = { id: string; pipeline: string };
const byPipeline = (x: RunRef, y: RunRef) => x.pipeline.localeCompare(y.pipeline);

/** Webhook deliveries: the runs they make, and the delivery that first brought each body (for the delivery TTL). */
export class DeliveryRepository implements DeliveryStore {
  constructor(
    private readonly io: TableIO,
    private readonly ttlSeconds: number,
  ) {}

  async createRuns(runs: Run[]): Promise<boolean[]> {
    return (await putNewRuns(this.io, runs)).map((hash) => hash !== undefined);
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
