import * as z from "zod/mini";
import { wakeUpDue } from "../engine/follow-up.js";
import { withFields } from "../log-context.js";
import { schema } from "../model/schema.js";
import type { Clock, Logger, Metrics, RunStore, WakeUps, WorkQueue } from "../ports.js";
import type { BatchResponse, QueueRecord } from "./batch.js";

const WakeUpMessage = /* @__PURE__ */ schema(() =>
  z.strictObject({
    runId: z.string().check(z.regex(/^[a-z0-9]{1,64}$/)),
    at: z.iso.datetime(),
    reason: z.enum(["observe", "approvalTimeout", "retryBackoff", "runTimeout", "schedule"]),
  }),
);

export interface WakeUpDeps {
  queue: WorkQueue;
  wakeUps: WakeUps;
  /** Read (strongly consistent) to decide whether a due wake-up still finds anything due on its run. */
  runs: Pick<RunStore, "getRun">;
  clock: Clock;
  log: Logger;
  metrics?: Metrics;
}

/**
 * Handles due wake-ups: each becomes a reconcile message in its run's FIFO message group, so the run is still
 * handled one message at a time. The deduplication key is the wake-up's instant: wake-ups for the same run and
 * instant (asked for by different reconciles) reconcile once. One that is not due yet (SQS delays at most 15
 * minutes) is sent on again. A malformed wake-up is dropped with an error log: it can only come from a bug,
 * and a wake-up is a hint (the reconciler's tick still looks at every active run).
 *
 * A due wake-up whose run, as stored, has nothing due at its instant (`wakeUpDue`: the task it was for ended
 * first, as an instant task's callback does) is dropped, logged at debug and counted (`WakeUpsDropped`): the
 * reconcile would change nothing. The read is strongly consistent, since an eventually consistent one can be
 * older than the save that asked for the wake-up (a stage's next task not yet submitted) and so show nothing due
 * when something is. A run that cannot be read is forwarded, never dropped; one that does not exist is dropped.
 */
export async function handleWakeUps(records: QueueRecord[], deps: WakeUpDeps): Promise<BatchResponse> {
  const failures: Array<{ itemIdentifier: string }> = [];
  const forward = async (parsed: z.infer<typeof WakeUpMessage>, log: Logger) => {
    const now = deps.clock.now();
    if (Date.parse(parsed.at) - Date.parse(now) >= 1000)
      await deps.wakeUps.schedule(parsed.runId, parsed.at, parsed.reason);
    else if (await nothingDue(parsed, now, deps, log)) {
      log.debug?.("wake-up dropped: nothing due on its run", { runId: parsed.runId, at: parsed.at });
      deps.metrics?.add({ name: "WakeUpsDropped", unit: "Count", value: 1 });
    } else
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
        await forward(parsed, withFields(deps.log, { messageId: record.messageId, runId: parsed.runId }));
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

/** Whether the run as stored has nothing due at the wake-up's instant (or now, if later); unread: not known. */
async function nothingDue(
  wake: z.infer<typeof WakeUpMessage>,
  now: string,
  deps: WakeUpDeps,
  log: Logger,
): Promise<boolean> {
  // A wake-up for a schedule is not about a run's state: forwarded as it is.
  if (wake.reason === "schedule") return false;
  const run = await deps.runs.getRun(wake.runId).catch((error: unknown) => {
    log.warn("run not read for a wake-up: forwarded", {
      runId: wake.runId,
      error: error instanceof Error ? error.message : String(error),
    });
    return null;
  });
  if (run === null) return false;
  if (run === undefined) return true;
  return !wakeUpDue(run, wake.at > now ? wake.at : now);
}

function parse(body: string): z.infer<typeof WakeUpMessage> | undefined {
  try {
    const result = WakeUpMessage.safeParse(JSON.parse(body));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
