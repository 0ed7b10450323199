import type { Provider, Run } from "../../model/index.js";
import type { BodyClaim, DeliveredBody, DeliveryStore } from "../../ports.js";
import { anyOf, deliveryIs, expiredBefore, itemAbsent } from "./conditions.js";
import { type Item, KEYS, N, S, schemaAttribute, schemaOf, str, TTL_ATTRIBUTE } from "./items.js";
import { putNewHeads, putNewSpecs } from "./run-items.js";
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
    return putNewHeads(this.io, await putNewSpecs(this.io, runs));
  }

  /**
   * The body's claim beside the runs' specs, then their heads: a delivery's runs are stored one round trip sooner
   * than after its claim (issue 20). A spec this call wrote for a body another delivery holds is deleted again, so
   * a replay leaves nothing behind; one it found (another call's, for the same id) stays.
   */
  async createDeliveredRuns(
    runs: Run[],
    { provider, sha256, delivery }: BodyClaim,
  ): Promise<{ created: boolean[] } | { heldBy: DeliveredBody }> {
    const [holder, specs] = await Promise.all([
      this.claimBody(provider, sha256, delivery),
      putNewSpecs(this.io, runs),
    ]);
    if (holder.id !== delivery.id) {
      await Promise.all(
        specs.map(({ run, hash, written }) => written && this.io.delete(KEYS.spec(run.id, hash))),
      );
      return { heldBy: holder };
    }
    return { created: await putNewHeads(this.io, specs) };
  }

  /**
   * One conditional write: the body is free (never seen, or its record expired) or already held by this delivery
   * id (the git host's own redelivery, whose runs replace the list). Otherwise DynamoDB returns the holder.
   */
  private async claimBody(
    provider: Provider,
    sha256: string,
    delivery: DeliveredBody,
  ): Promise<DeliveredBody> {
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
