import * as z from "zod";
import { withLogContext } from "../log-context.js";
import type { Clock, Logger, WakeUps, WorkQueue } from "../ports.js";
import type { BatchResponse, QueueRecord } from "./batch.js";

const WakeUpMessage = z.strictObject({
  runId: z.string().regex(/^[a-z0-9]{1,64}$/),
  at: z.iso.datetime(),
  reason: z.enum(["observe", "approvalTimeout", "retryBackoff", "runTimeout", "schedule"]),
});

export interface WakeUpDeps {
  queue: WorkQueue;
  wakeUps: WakeUps;
  clock: Clock;
  log: Logger;
}

/**
 * Handles due wake-ups: each becomes a reconcile message in its run's FIFO message group, so the run is still
 * handled one message at a time. The deduplication key is the wake-up's instant: wake-ups for the same run and
 * instant (asked for by different reconciles) reconcile once. One that is not due yet (SQS delays at most 15
 * minutes) is sent on again. A malformed wake-up is dropped with an error log: it can only come from a bug,
 * and a wake-up is a hint (the reconciler's tick still looks at every active run).
 */
export async function handleWakeUps(records: QueueRecord[], deps: WakeUpDeps): Promise<BatchResponse> {
  const failures: Array<{ itemIdentifier: string }> = [];
  const forward = async (parsed: z.infer<typeof WakeUpMessage>) => {
    if (Date.parse(parsed.at) - Date.parse(deps.clock.now()) >= 1000)
      await deps.wakeUps.schedule(parsed.runId, parsed.at, parsed.reason);
    else
      await deps.queue.send([
        {
          runId: parsed.runId,
          event: { type: "reconcile" },
          dedupKey: `wake:${parsed.runId}:${parsed.at}`,
        },
      ]);
  };
  await Promise.all(
    records.map(async (record) => {
      const parsed = parse(record.body);
      if (!parsed) {
        deps.log.error("malformed wake-up dropped", { messageId: record.messageId });
        return;
      }
      try {
        await withLogContext({ messageId: record.messageId, runId: parsed.runId }, () => forward(parsed));
      } catch (error) {
        deps.log.warn("wake-up failed, will be retried", {
          messageId: record.messageId,
          runId: parsed.runId,
          error: error instanceof Error ? error.message : String(error),
        });
        failures.push({ itemIdentifier: record.messageId });
      }
    }),
  );
  return { batchItemFailures: failures };
}

function parse(body: string): z.infer<typeof WakeUpMessage> | undefined {
  try {
    const result = WakeUpMessage.safeParse(JSON.parse(body));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
