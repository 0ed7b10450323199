import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createNotificationSender } from "../../core/adapters/notify/index.js";
import { PermanentError, RetryableError } from "../../core/errors.js";
import { Notifier } from "../../core/model/index.js";
import { caught, RECEIVER_TARGETS, runNotice } from "../receivers/fixtures.js";
import { type Receiver, startWecomReceiver, WECOM_TOO_LONG } from "../receivers/index.js";

let receiver: Receiver;
const sender = createNotificationSender({ targets: RECEIVER_TARGETS });
const target = () => Notifier.parse({ kind: "wecom", url: receiver.url });
const content = (index = 0) => JSON.parse(receiver.accepted[index]?.body ?? "{}").markdown.content as string;
const bytes = (text: string) => Buffer.byteLength(text, "utf8");

beforeAll(async () => {
  receiver = await startWecomReceiver();
});
afterAll(() => receiver.close());
beforeEach(() => receiver.reset());

/** A notice whose failure message alone is far over WeCom's limit, in 3- and 4-byte characters. */
const longNotice = (unit: string) => runNotice({ failedTask: { name: "unit", message: unit.repeat(3000) } });

describe("WeCom sender against a checking receiver", () => {
  it("is accepted, with the status coloured", async () => {
    await sender.send(target(), runNotice());
    expect(receiver.rejected).toEqual([]);
    expect(content()).toContain('Status: <font color="warning">failed</font>');
  });

  it("the receiver really refuses content over 4096 bytes", async () => {
    const tooLong = { msgtype: "markdown", markdown: { content: "x".repeat(4097) } };
    const response = await fetch(receiver.url, { method: "POST", body: JSON.stringify(tooLong) });
    expect(await response.json()).toMatchObject({ errcode: 40058 });
    expect(receiver.rejected.map((r) => r.reason)).toEqual(["markdown content over 4096 bytes"]);
  });

  it.each([
    ["Chinese (3 bytes each)", "测"],
    ["emoji (4 bytes each)", "🔥"],
    ["mixed", "é测🔥a"],
  ])("cuts a long message to at most 4096 bytes on a character boundary: %s", async (_name, unit) => {
    await sender.send(target(), longNotice(unit));
    expect(receiver.rejected).toEqual([]);
    const text = content();
    expect(bytes(text)).toBeLessThanOrEqual(4096);
    expect(bytes(text)).toBeGreaterThan(4096 - 8);
    // Valid UTF-8 all the way: decoding and re-encoding gives the same bytes, and no replacement character.
    expect(Buffer.from(text, "utf8").toString("utf8")).toBe(text);
    expect(text).not.toContain("\uFFFD");
    expect(text).toContain("… (cut)");
    expect(text.endsWith(`[View run](${runNotice().url})`)).toBe(true);
  });
});

describe("WeCom answers", () => {
  it("errcode 45009 (rate limit) is retryable", async () => {
    receiver.rateLimitNext(1);
    const error = await caught(sender.send(target(), runNotice()));
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toContain("45009");
  });

  it("errcode 40058 (too long) is permanent, and the key is not quoted", async () => {
    receiver.failNext(1, WECOM_TOO_LONG);
    const error = await caught(sender.send(target(), runNotice()));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).not.toContain(new URL(receiver.url).searchParams.get("key")!);
  });

  it("an unknown key is refused (93000) and permanent", async () => {
    const wrong = Notifier.parse({
      kind: "wecom",
      url: `${receiver.origin}/cgi-bin/webhook/send?key=nope-nope`,
    });
    const error = await caught(sender.send(wrong, runNotice()));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain("93000");
    expect(error.message).not.toContain("nope-nope");
  });

  it("a 5xx is retryable", async () => {
    receiver.failNext(1, { status: 503, body: "busy" });
    expect(await caught(sender.send(target(), runNotice()))).toBeInstanceOf(RetryableError);
  });
});
