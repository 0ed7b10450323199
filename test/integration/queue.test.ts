import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { jsonLogger, silentLogger } from "../../core/adapters/system.js";
import { withFields } from "../../core/log-context.js";
import type { WorkMessage } from "../../core/ports.js";
import { processBatch } from "../../core/services/batch.js";
import { pollOnce } from "../../infra/local/queue-poller.js";
import { freshQueue } from "../helpers/aws.js";
import { waitFor } from "../helpers/wait.js";

const reconcile = (runId: string, dedupKey: string) => ({
  runId,
  event: { type: "reconcile" as const },
  dedupKey,
});

describe("the work queue", () => {
  it("sends, receives and deletes, deduplicating by idempotency key", async () => {
    const { queue } = await freshQueue();
    await queue.send([reconcile("r1", "a"), reconcile("r1", "a"), reconcile("r2", "b")]);
    const seen: WorkMessage[] = [];
    const result = await pollOnce(
      queue,
      (event) => processBatch(event.Records, async (m) => seen.push(m), silentLogger),
      {
        waitSeconds: 1,
      },
    );
    expect(result).toEqual({ received: 2, failed: 0 });
    expect(seen.map((m) => m.runId).sort()).toEqual(["r1", "r2"]);
    expect(await queue.receive({ waitSeconds: 0 })).toEqual([]);
  });

  it("deletes a handled batch in one request, leaving the failed messages to come back", async () => {
    const { queue } = await freshQueue({ visibilityTimeoutSeconds: 30 });
    await queue.send([reconcile("r1", "a"), reconcile("r2", "b"), reconcile("r3", "c")]);
    const deletes: Array<{ handles: number; failed: number }> = [];
    const counted = {
      receive: (o: { max?: number; waitSeconds?: number }) => queue.receive(o),
      deleteAll: async (handles: string[]) => {
        const result = await queue.deleteAll(handles);
        deletes.push({ handles: handles.length, failed: result.failed });
        return result;
      },
    };
    const handler = (event: { Records: Parameters<typeof processBatch>[0] }) =>
      processBatch(
        event.Records,
        async (m) => {
          if (m.runId === "r2") throw new Error("the cluster is down");
        },
        silentLogger,
      );
    const polls: Array<{ received: number; failed: number }> = [];
    await waitFor(
      async () => {
        const poll = await pollOnce(counted, handler, { waitSeconds: 1 });
        if (poll.received > 0) polls.push(poll);
        return polls.reduce((n, p) => n + p.received, 0);
      },
      { until: (received) => received === 3, what: "the three messages" },
    );
    expect(polls.reduce((n, p) => n + p.failed, 0)).toBe(1);
    // One delete request per poll that handled something, holding every message it handled.
    expect(deletes).toEqual(
      polls.filter((p) => p.received > p.failed).map((p) => ({ handles: p.received - p.failed, failed: 0 })),
    );
    const depth = await queue.depth();
    expect(depth.inFlight).toBe(1);
  });

  it("delivers a failed message again after its visibility timeout", async () => {
    // Long enough that the poll right after the failure cannot outlast it, even on a loaded machine.
    const { queue } = await freshQueue({ visibilityTimeoutSeconds: 3 });
    await queue.send([reconcile("r1", "x")]);
    let calls = 0;
    const flaky = async () => {
      calls++;
      if (calls === 1) throw new Error("the cluster is down");
    };
    const handler = (event: { Records: Parameters<typeof processBatch>[0] }) =>
      processBatch(event.Records, flaky, silentLogger);
    expect(await pollOnce(queue, handler, { waitSeconds: 1 })).toEqual({ received: 1, failed: 1 });
    expect(await pollOnce(queue, handler, { waitSeconds: 0 })).toEqual({ received: 0, failed: 0 });
    const again = await waitFor(() => pollOnce(queue, handler, { waitSeconds: 1 }), {
      until: (result) => result.received > 0,
      what: "the failed message to come back after its visibility timeout",
    });
    expect(again).toEqual({ received: 1, failed: 0 });
    expect(calls).toBe(2);
  });

  it("reports a malformed message as a batch item failure without failing the rest, then dead-letters it", async () => {
    const { queue, dead, client, workUrl } = await freshQueue({
      visibilityTimeoutSeconds: 1,
      maxReceiveCount: 2,
    });
    await client.send(
      new SendMessageCommand({
        QueueUrl: workUrl,
        MessageBody: '{"runId":"BAD ID","event":{"type":"nope"}}',
        MessageGroupId: "bad",
        MessageDeduplicationId: "bad",
      }),
    );
    await client.send(
      new SendMessageCommand({
        QueueUrl: workUrl,
        MessageBody: "not json",
        MessageGroupId: "worse",
        MessageDeduplicationId: "worse",
      }),
    );
    await queue.send([reconcile("good", "g")]);
    const handled: string[] = [];
    const handler = (event: { Records: Parameters<typeof processBatch>[0] }) =>
      processBatch(event.Records, async (m) => handled.push(m.runId), silentLogger);

    const first = await pollOnce(queue, handler, { waitSeconds: 1 });
    expect(first).toEqual({ received: 3, failed: 2 });
    expect(handled).toEqual(["good"]);
    // Each failed receive counts; past maxReceiveCount the queue moves the message to the dead-letter queue.
    const deadLettered: string[] = [];
    await waitFor(
      async () => {
        await pollOnce(queue, handler, { waitSeconds: 1 });
        for (const m of await dead.receive({ waitSeconds: 0 })) deadLettered.push(m.Body ?? "");
        return deadLettered.length;
      },
      { until: (count) => count >= 2, what: "both bad messages in the dead-letter queue" },
    );
    expect(handled).toEqual(["good"]);
    expect(deadLettered.sort()).toEqual(["not json", '{"runId":"BAD ID","event":{"type":"nope"}}'].sort());
  });

  it("processes a failed message's later siblings of the same run as failures, other runs as usual", async () => {
    const records = [
      {
        messageId: "1",
        body: JSON.stringify({ runId: "a", event: { type: "reconcile" } }),
        attributes: { MessageGroupId: "a" },
      },
      {
        messageId: "2",
        body: JSON.stringify({ runId: "a", event: { type: "reconcile" } }),
        attributes: { MessageGroupId: "a" },
      },
      {
        messageId: "3",
        body: JSON.stringify({ runId: "b", event: { type: "reconcile" } }),
        attributes: { MessageGroupId: "b" },
      },
    ];
    const handled: string[] = [];
    const response = await processBatch(
      records,
      async (m) => {
        handled.push(m.runId);
        if (m.runId === "a") throw new Error("conflict");
      },
      silentLogger,
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "1" }, { itemIdentifier: "2" }]);
    expect(handled.sort()).toEqual(["a", "b"]);
  });

  it("hands each message a logger with its own id and run, kept when a batch's runs are handled side by side", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = jsonLogger({}, (line) => lines.push(JSON.parse(line)));
    const record = (messageId: string, runId: string) => ({
      messageId,
      body: JSON.stringify({ runId, event: { type: "reconcile" } }),
      attributes: { MessageGroupId: runId },
    });
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const response = await processBatch(
      [record("m1", "r1"), record("m2", "r2")],
      async (m, handed) => {
        if (m.runId === "r1") await gate; // r2's lines are written while r1's work waits
        withFields(handed, { task: "unit", attempt: 1 }).info("submitted");
        handed.info("applied");
        if (m.runId === "r2") open();
        if (m.runId === "r1") throw new Error("the cluster is down");
      },
      log,
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m1" }]);
    expect(lines.map(({ time: _, ...rest }) => rest)).toEqual([
      { level: "info", message: "submitted", messageId: "m2", runId: "r2", task: "unit", attempt: 1 },
      { level: "info", message: "applied", messageId: "m2", runId: "r2" },
      { level: "info", message: "submitted", messageId: "m1", runId: "r1", task: "unit", attempt: 1 },
      { level: "info", message: "applied", messageId: "m1", runId: "r1" },
      {
        level: "warn",
        message: "work message failed",
        messageId: "m1",
        runId: "r1",
        error: "the cluster is down",
      },
    ]);
  });
});
