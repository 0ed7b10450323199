import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createNotificationSender } from "../../core/adapters/notify/index.js";
import { PermanentError, RetryableError } from "../../core/errors.js";
import { Notifier } from "../../core/model/index.js";
import { caught, FIXED_NOW_MS, fixedClock, RECEIVER_TARGETS, runNotice } from "../receivers/fixtures.js";
import { type Receiver, startDingtalkReceiver } from "../receivers/index.js";

const SECRET = "SECd1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f";
let receiver: Receiver;
const sender = createNotificationSender({ targets: RECEIVER_TARGETS, clock: fixedClock() });
const target = (secret?: string) =>
  Notifier.parse({ kind: "dingtalk", url: receiver.url, ...(secret ? { secret } : {}) });
const accessToken = () => new URL(receiver.url).searchParams.get("access_token")!;

beforeAll(async () => {
  receiver = await startDingtalkReceiver({ secret: SECRET, nowMs: () => FIXED_NOW_MS });
});
afterAll(() => receiver.close());
beforeEach(() => receiver.reset());

describe("DingTalk sender against a verifying receiver", () => {
  it("is accepted with a correct signature in the query", async () => {
    await sender.send(target(SECRET), runNotice());
    expect(receiver.rejected).toEqual([]);
    const [request] = receiver.accepted;
    expect(request?.query).toMatchObject({ access_token: accessToken(), timestamp: String(FIXED_NOW_MS) });
    expect(JSON.parse(request!.body)).toMatchObject({
      msgtype: "actionCard",
      actionCard: { title: "❌ web-app: run failed", singleURL: runNotice().url },
    });
  });

  it("a wrong secret is refused with 310000, and the sender gives up without quoting secret or token", async () => {
    const error = await caught(sender.send(target("SECwrong"), runNotice()));
    expect(receiver.rejected.map((r) => r.reason)).toEqual(["sign mismatch"]);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain("310000");
    for (const secret of ["SECwrong", accessToken(), receiver.rejected[0]!.query.sign!])
      expect(error.message).not.toContain(secret);
  });

  it("a stale timestamp is refused", async () => {
    const late = createNotificationSender({
      targets: RECEIVER_TARGETS,
      clock: fixedClock(FIXED_NOW_MS + 2 * 3600 * 1000),
    });
    expect(await caught(late.send(target(SECRET), runNotice()))).toBeInstanceOf(PermanentError);
    expect(receiver.rejected.map((r) => r.reason)).toEqual(["timestamp not within one hour"]);
  });

  it("errcode 130101 (more than 20 a minute) is retryable after DingTalk's 10-minute throttle", async () => {
    receiver.rateLimitNext(1);
    const error = await caught(sender.send(target(SECRET), runNotice()));
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).retryAfterSeconds).toBe(600);
  });

  it("a 5xx is retryable; another errcode is permanent", async () => {
    receiver.failNext(1, { status: 502, body: "bad gateway" });
    expect(await caught(sender.send(target(SECRET), runNotice()))).toBeInstanceOf(RetryableError);
    receiver.failNext(1, { status: 200, body: { errcode: 400102, errmsg: "robot is stopped" } });
    expect(await caught(sender.send(target(SECRET), runNotice()))).toBeInstanceOf(PermanentError);
  });
});
