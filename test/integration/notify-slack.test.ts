import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createNotificationSender } from "../../core/adapters/notify/index.js";
import { PermanentError, RetryableError } from "../../core/errors.js";
import { Notifier } from "../../core/model/index.js";
import { caught, RECEIVER_TARGETS, runNotice } from "../receivers/fixtures.js";
import { type Receiver, startSlackReceiver } from "../receivers/index.js";

let receiver: Receiver;
const sender = createNotificationSender({ targets: RECEIVER_TARGETS });
const target = () => Notifier.parse({ kind: "slack", url: receiver.url });

beforeAll(async () => {
  receiver = await startSlackReceiver();
});
afterAll(() => receiver.close());
beforeEach(() => receiver.reset());

describe("Slack sender against a checking receiver", () => {
  it("is accepted: blocks plus a text fallback", async () => {
    await sender.send(target(), runNotice());
    expect(receiver.rejected).toEqual([]);
    const body = JSON.parse(receiver.accepted[0]!.body);
    expect(body.text).toContain("web-app: run failed");
    expect(body.blocks.map((b: { type: string }) => b.type)).toEqual([
      "header",
      "section",
      "section",
      "section",
      "actions",
    ]);
    expect(body.blocks.at(-1).elements[0]).toMatchObject({ type: "button", url: runNotice().url });
  });

  it("the receiver really checks blocks", async () => {
    const bad = { blocks: [{ type: "header", text: { type: "plain_text", text: "x".repeat(151) } }] };
    const response = await fetch(receiver.url, { method: "POST", body: JSON.stringify(bad) });
    expect(response.status).toBe(400);
    expect(await response.text()).toBe("invalid_blocks");
  });

  it("keeps within Block Kit limits when values are long", async () => {
    const long = runNotice({
      pipeline: "p".repeat(63),
      failedTask: { name: "unit", message: "m".repeat(5000) },
    });
    await sender.send(target(), long);
    expect(receiver.rejected).toEqual([]);
  });
});

describe("Slack answers", () => {
  it("429 is retryable after Retry-After", async () => {
    receiver.rateLimitNext(1);
    const error = await caught(sender.send(target(), runNotice()));
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).retryAfterSeconds).toBe(7);
  });

  it("an unknown webhook (404 no_service) is permanent, and its secret path is not quoted", async () => {
    const wrong = Notifier.parse({
      kind: "slack",
      url: `${receiver.origin}/services/T0/B0/ZZZZZZZZZZZZZZZZZZZZZZZZ`,
    });
    const error = await caught(sender.send(wrong, runNotice()));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain("no_service");
    expect(error.message).not.toContain("ZZZZZZZZZZZZZZZZZZZZZZZZ");
  });

  it("a 200 whose body is not 'ok' is a failure", async () => {
    receiver.failNext(1, { status: 200, body: "invalid_token" });
    expect(await caught(sender.send(target(), runNotice()))).toBeInstanceOf(PermanentError);
  });

  it("a 5xx is retryable", async () => {
    receiver.failNext(1);
    expect(await caught(sender.send(target(), runNotice()))).toBeInstanceOf(RetryableError);
  });
});
