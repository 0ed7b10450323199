import { describe, expect, it } from "vitest";
import { ValidationError } from "../../core/errors.js";
import { RUN_EVENTS, type RunEvent } from "../../core/model/index.js";
import { parseWorkMessage } from "../../core/services/batch.js";

/** One event of every type, as the product queues them. */
const EVENTS: { [T in RunEvent["type"]]: Extract<RunEvent, { type: T }> } = {
  "run.created": { type: "run.created", groupAhead: ["older"] },
  reconcile: { type: "reconcile" },
  "task.submitted": { type: "task.submitted", task: "t", attempt: 1 },
  "task.started": { type: "task.started", task: "t", attempt: 1, relay: true },
  "task.outputs": { type: "task.outputs", task: "t", attempt: 1, outputs: { K: "v" } },
  "task.succeeded": { type: "task.succeeded", task: "t", attempt: 2, outputs: "K=v", message: "done" },
  "task.failed": { type: "task.failed", task: "t", attempt: 1, message: "exit 1", reason: "Failed" },
  "task.lost": { type: "task.lost", task: "t", attempt: 1 },
  "task.submitFailed": { type: "task.submitFailed", task: "t", attempt: 1, message: "503" },
  "task.timedOut": { type: "task.timedOut", task: "t", attempt: 1 },
  "task.waitingForRoom": { type: "task.waitingForRoom", task: "t", attempt: 1, limit: 4 },
  "approval.granted": { type: "approval.granted", task: "deploy", by: "alice", comment: "ok" },
  "approval.denied": { type: "approval.denied", task: "deploy", by: "bob", email: "bob@example.com" },
  "run.trusted": { type: "run.trusted", by: "alice" },
  "cancel.requested": { type: "cancel.requested", byRun: "newer" },
  "rerun.requested": { type: "rerun.requested", failedOnly: true },
  "log.archived": { type: "log.archived", key: "k", task: "t", attempt: 1, containers: ["step"] },
  "outbox.delivered": { type: "outbox.delivered", results: [{ key: "k", target: "slack" }] },
};

const refusal = (body: unknown) => {
  try {
    parseWorkMessage(typeof body === "string" ? body : JSON.stringify(body));
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as Error).message;
  }
  throw new Error("the message was accepted");
};

describe("a work message, its event parsed with its type's schema alone", () => {
  it("knows every event type, and takes each as it was queued", () => {
    expect(Object.keys(EVENTS).sort()).toEqual(Object.keys(RUN_EVENTS).sort());
    for (const event of Object.values(EVENTS))
      expect(parseWorkMessage(JSON.stringify({ runId: "r1", event, observe: false }))).toEqual({
        runId: "r1",
        event,
        observe: false,
      });
    expect(parseWorkMessage('{"runId":"r1","deliver":"notify:run.succeeded"}')).toEqual({
      runId: "r1",
      deliver: "notify:run.succeeded",
    });
  });

  it("drops what an event's type does not define, as the union did", () => {
    expect(
      parseWorkMessage('{"runId":"r1","event":{"type":"task.lost","task":"t","attempt":3,"x":1}}'),
    ).toEqual({
      runId: "r1",
      event: { type: "task.lost", task: "t", attempt: 3 },
    });
  });

  it("refuses a bad event with the path of each field at fault", () => {
    expect(refusal({ runId: "r1", event: { type: "task.failed", task: "t", attempt: 0 } })).toBe(
      "malformed work message: event.attempt: Too small: expected number to be >=1; " +
        "event.message: Invalid input: expected string, received undefined",
    );
    expect(refusal({ runId: "r1", event: { type: "nope" } })).toMatch(/^malformed work message: /);
    expect(refusal({ runId: "r1", event: { type: "toString" } })).toMatch(/^malformed work message: /);
    expect(refusal({ runId: "BAD ID", event: EVENTS.reconcile })).toMatch(/^malformed work message: /);
    expect(refusal({ runId: "r1", deliver: "k", event: EVENTS.reconcile })).toMatch(
      /^malformed work message: /,
    );
    expect(refusal("not json")).toBe("message body is not JSON");
  });
});
