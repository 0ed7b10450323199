import * as z from "zod/mini";
import { PermanentError, ValidationError } from "../errors.js";
import { withFields } from "../log-context.js";
import { formatPath, RUN_EVENTS, type RunEvent } from "../model/index.js";
import { schema } from "../model/schema.js";
import type { Clock, Logger, Metrics, WorkMessage } from "../ports.js";

/** The parts of an SQS record a consumer reads (the same on Lambda and in the local poll loop). */
export interface QueueRecord {
  messageId: string;
  body: string;
  attributes?: { ApproximateReceiveCount?: string; MessageGroupId?: string; SentTimestamp?: string };
}

export interface BatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

const RunId = /* @__PURE__ */ schema(() => z.string().check(z.regex(/^[a-z0-9]{1,64}$/)));
/** A work message with its event's type checked; the event itself is parsed with that type's schema alone. */
const Envelope = /* @__PURE__ */ schema(() =>
  z.union([
    z.strictObject({
      runId: RunId,
      event: z.looseObject({ type: z.enum(Object.keys(RUN_EVENTS) as [RunEvent["type"]]) }),
      observe: z.optional(z.boolean()),
    }),
    z.strictObject({ runId: RunId, deliver: z.string().check(z.minLength(1), z.maxLength(512)) }),
  ]),
);

export function parseWorkMessage(body: string): WorkMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new ValidationError("message body is not JSON");
  }
  const envelope = Envelope.safeParse(json);
  if (!envelope.success) throw malformed(envelope.error.issues);
  if (!("event" in envelope.data)) return envelope.data;
  const event = RUN_EVENTS[envelope.data.event.type].safeParse(envelope.data.event);
  if (!event.success) throw malformed(event.error.issues.map((i) => ({ ...i, path: ["event", ...i.path] })));
  return { ...envelope.data, event: event.data as RunEvent };
}

const malformed = (issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>) =>
  new ValidationError(
    `malformed work message: ${issues.map((i) => `${formatPath(i.path) || "body"}: ${i.message}`).join("; ")}`,
  );

/** "The run owes something": a reconcile that observes nothing, sent after a report or a command is recorded. */
const isOwed = (message: WorkMessage) =>
  "event" in message && message.event.type === "reconcile" && message.observe === false;

function isOwedBody(body: string | undefined): boolean {
  if (body === undefined) return false;
  try {
    return isOwed(parseWorkMessage(body));
  } catch {
    return false;
  }
}

/**
 * Processes a batch record by record (one try/catch each) and reports the failures, so SQS retries only those.
 * Message groups (runs) are processed in parallel, each group's records in order; as SQS FIFO requires, once a
 * record fails, the later records of its group are reported failed without being processed. A malformed record
 * fails on its own and, after maxReceiveCount tries, moves to the dead-letter queue. When every record fails,
 * the response lists them all: Lambda deletes none and each comes back once its visibility timeout ends. Neither
 * SQS nor Lambda backs off beyond that (with ReportBatchItemFailures, Lambda keeps polling at the same rate); a
 * group stays blocked behind its failed record until it comes back.
 */
export async function processBatch(
  records: QueueRecord[],
  /** `log`: the batch's logger with the message's fields (its id, its run), for every line about it. */
  handle: (message: WorkMessage, log: Logger) => Promise<unknown>,
  log: Logger,
  measure?: { metrics: Metrics; clock: Clock },
): Promise<BatchResponse> {
  const groups = new Map<string, QueueRecord[]>();
  for (const record of records) {
    const group = record.attributes?.MessageGroupId ?? record.messageId;
    groups.set(group, [...(groups.get(group) ?? []), record]);
  }
  const failed = new Set<string>();
  await Promise.all(
    [...groups.values()].map(async (group) => {
      for (const [i, record] of group.entries()) {
        const sent = Number(record.attributes?.SentTimestamp);
        if (measure && sent > 0)
          measure.metrics.add({
            name: "QueueAge",
            unit: "Milliseconds",
            value: Math.max(0, Date.parse(measure.clock.now()) - sent),
          });
        const context: Record<string, string> = { messageId: record.messageId };
        try {
          const message = parseWorkMessage(record.body);
          context.runId = message.runId;
          // Owed messages in a row (several tasks of a stage reported) are one: the last loads the run once, with
          // every report they announce. Should it fail, it comes back, and with it the work of those skipped.
          if (isOwed(message) && isOwedBody(group[i + 1]?.body)) continue;
          await handle(message, withFields(log, context));
        } catch (error) {
          const permanent = error instanceof ValidationError || error instanceof PermanentError;
          log[permanent ? "error" : "warn"]("work message failed", {
            ...context,
            receiveCount: record.attributes?.ApproximateReceiveCount,
            error: error instanceof Error ? error.message : String(error),
          });
          for (const later of group.slice(i)) failed.add(later.messageId);
          return;
        }
      }
    }),
  );
  return {
    batchItemFailures: records
      .filter((r) => failed.has(r.messageId))
      .map((r) => ({ itemIdentifier: r.messageId })),
  };
}
