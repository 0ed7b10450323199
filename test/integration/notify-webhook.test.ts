import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createNotificationSender } from "../../core/adapters/notify/index.js";
import { PermanentError, RetryableError } from "../../core/errors.js";
import { Notifier } from "../../core/model/index.js";
import { caught, RECEIVER_TARGETS, runNotice } from "../receivers/fixtures.js";
import { type Receiver, startWebhookReceiver } from "../receivers/index.js";

const SECRET = "hookflow-webhook-secret-42";
let receiver: Receiver;
const sender = createNotificationSender({ targets: RECEIVER_TARGETS });
const target = (secret?: string) =>
  Notifier.parse({ kind: "webhook", url: receiver.url, ...(secret ? { secret } : {}) });

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
});
afterAll(() => receiver.close());
beforeEach(() => receiver.reset());

describe("generic webhook sender against a verifying receiver", () => {
  it("is accepted (204): the body is the notice with a version marker, signed", async () => {
    const notice = runNotice();
    await sender.send(target(SECRET), notice);
    expect(receiver.rejected).toEqual([]);
    const [request] = receiver.accepted;
    expect(JSON.parse(request!.body)).toEqual({ hookflow: 1, ...notice });
    expect(request!.headers["x-hookflow-event"]).toBe("run.failed");
    expect(request!.headers["x-hookflow-signature-256"]).toMatch(/^sha256=[0-9a-f]{64}$/);
  });

  it("a wrong secret is refused with 401 and the sender gives up", async () => {
    const error = await caught(sender.send(target("wrong-secret"), runNotice()));
    expect(receiver.rejected.map((r) => r.reason)).toEqual(["signature mismatch"]);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain("401");
    expect(error.message).not.toContain("wrong-secret");
  });

  it("an unsigned delivery is refused by a receiver that expects a signature", async () => {
    expect(await caught(sender.send(target(), runNotice()))).toBeInstanceOf(PermanentError);
    expect(receiver.rejected.map((r) => r.reason)).toEqual(["signature mismatch"]);
  });

  it("5xx and 429 are retryable; Retry-After is passed on", async () => {
    receiver.failNext(1, { status: 500 });
    expect(await caught(sender.send(target(SECRET), runNotice()))).toBeInstanceOf(RetryableError);
    receiver.rateLimitNext(1);
    const error = await caught(sender.send(target(SECRET), runNotice()));
    expect((error as RetryableError).retryAfterSeconds).toBe(3);
  });

  it("a redirect is not followed (it would carry the signed body elsewhere)", async () => {
    receiver.failNext(1, { status: 307, headers: { location: "http://127.0.0.1:1/elsewhere" } });
    const error = await caught(sender.send(target(SECRET), runNotice()));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain("redirects are not followed");
    expect(receiver.rejected).toHaveLength(1);
  });

  it("other 4xx are permanent", async () => {
    receiver.failNext(1, { status: 410, body: "gone" });
    expect(await caught(sender.send(target(SECRET), runNotice()))).toBeInstanceOf(PermanentError);
  });
});
