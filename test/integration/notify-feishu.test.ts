import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createNotificationSender } from "../../core/adapters/notify/index.js";
import { PermanentError, RetryableError } from "../../core/errors.js";
import { Notifier, type NotifyEvent, type RunStatus } from "../../core/model/index.js";
import {
  caught,
  FIXED_NOW_MS,
  fixedClock,
  RECEIVER_TARGETS,
  runNotice,
  waitingNotice,
} from "../receivers/fixtures.js";
import { type Receiver, startFeishuReceiver } from "../receivers/index.js";

const SECRET = "feishu-signing-secret-7Qz";
let receiver: Receiver;
const sender = createNotificationSender({ targets: RECEIVER_TARGETS, clock: fixedClock() });
const target = (secret: string | undefined = SECRET) =>
  Notifier.parse({ kind: "feishu", url: receiver.url, ...(secret ? { secret } : {}) });
const card = (index = 0) => JSON.parse(receiver.accepted[index]?.body ?? "{}").card;

beforeAll(async () => {
  receiver = await startFeishuReceiver({ secret: SECRET, nowMs: () => FIXED_NOW_MS });
});
afterAll(() => receiver.close());
beforeEach(() => receiver.reset());

describe("Feishu sender against a verifying receiver", () => {
  it("is accepted with a correct signature", async () => {
    await sender.send(target(), runNotice());
    expect(receiver.rejected).toEqual([]);
    expect(receiver.accepted).toHaveLength(1);
    const body = JSON.parse(receiver.accepted[0]!.body);
    expect(body).toMatchObject({ timestamp: String(FIXED_NOW_MS / 1000), msg_type: "interactive" });
    expect(card().header).toEqual({
      template: "red",
      title: { tag: "plain_text", content: "❌ web-app: run failed" },
    });
  });

  it("a wrong secret is refused by the receiver, and the sender gives up", async () => {
    const error = await caught(sender.send(target("not-the-secret"), runNotice()));
    expect(receiver.rejected.map((r) => r.reason)).toEqual(["sign mismatch"]);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain("19021");
    expect(error.message).not.toContain("not-the-secret");
    expect(error.message).not.toContain(new URL(receiver.url).pathname.split("/").pop());
  });

  it("a timestamp more than an hour off is refused like a bad signature", async () => {
    const late = createNotificationSender({
      targets: RECEIVER_TARGETS,
      clock: fixedClock(FIXED_NOW_MS - 3601 * 1000),
    });
    const error = await caught(late.send(target(), runNotice()));
    expect(receiver.rejected.map((r) => r.reason)).toEqual(["timestamp not within one hour"]);
    expect(error).toBeInstanceOf(PermanentError);
  });

  it("a bot with signing enabled refuses an unsigned message", async () => {
    const error = await caught(sender.send(target(""), runNotice()));
    expect(receiver.rejected.map((r) => r.reason)).toEqual(["timestamp or sign missing"]);
    expect(error).toBeInstanceOf(PermanentError);
  });

  it.each<[string, RunStatus, NotifyEvent, string]>([
    ["succeeded", "succeeded", "run.succeeded", "green"],
    ["failed", "failed", "run.failed", "red"],
    ["canceled", "canceled", "run.canceled", "grey"],
    ["started", "running", "run.started", "blue"],
    ["waiting", "waiting", "task.waiting", "orange"],
  ])("colours a %s run's header %s", async (_name, status, event, template) => {
    const notice = event === "task.waiting" ? waitingNotice() : runNotice({ event, status });
    await sender.send(target(), notice);
    expect(card().header.template).toBe(template);
  });
});

describe("Feishu answers", () => {
  it("code 11232 (frequency limited) is worth retrying", async () => {
    receiver.rateLimitNext(1);
    const error = await caught(sender.send(target(), runNotice()));
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toContain("11232");
  });

  it("code 9499 is retried only when it says 'too many request'", async () => {
    receiver.failNext(1, { status: 200, body: { code: 9499, msg: "too many request" } });
    expect(await caught(sender.send(target(), runNotice()))).toBeInstanceOf(RetryableError);
    receiver.failNext(1, { status: 200, body: { code: 9499, msg: "Bad Request", data: {} } });
    expect(await caught(sender.send(target(), runNotice()))).toBeInstanceOf(PermanentError);
  });

  it("a 5xx is retryable, and the next attempt goes through", async () => {
    receiver.failNext(1);
    expect(await caught(sender.send(target(), runNotice()))).toBeInstanceOf(RetryableError);
    await sender.send(target(), runNotice());
    expect(receiver.accepted).toHaveLength(1);
  });

  it("the older StatusCode field is read too", async () => {
    receiver.failNext(1, { status: 200, body: { StatusCode: 19024, StatusMessage: "Key Words Not Found" } });
    const error = await caught(sender.send(target(), runNotice()));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain("19024");
  });
});
