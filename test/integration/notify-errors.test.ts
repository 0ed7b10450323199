import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createNotificationSender } from "../../core/adapters/notify/index.js";
import { PermanentError, RetryableError } from "../../core/errors.js";
import { Notifier, type NotifierKind } from "../../core/model/index.js";
import { caught, FIXED_NOW_MS, fixedClock, RECEIVER_TARGETS, runNotice } from "../receivers/fixtures.js";
import { type Receivers, startReceivers } from "../receivers/index.js";

const SECRET = "do-not-leak-this-secret-3f9a";
let receivers: Receivers;

beforeAll(async () => {
  receivers = await startReceivers({ nowMs: () => FIXED_NOW_MS });
});
afterAll(() => receivers.close());
beforeEach(() => receivers.reset());

const KINDS: NotifierKind[] = ["feishu", "dingtalk", "wecom", "slack", "webhook"];
const target = (kind: NotifierKind, url = receivers[kind].url) =>
  Notifier.parse({ kind, url, secret: SECRET });
/** Every credential a message could leak: the secret, and the token part of each receiver URL. */
const credentials = (url: string) => {
  const parsed = new URL(url);
  return [
    SECRET,
    ...parsed.pathname.split("/").filter((s) => s.length >= 16),
    ...parsed.searchParams.values(),
  ];
};

describe("errors never carry the secret or the URL's token", () => {
  it.each<NotifierKind>(["feishu", "dingtalk", "webhook"])("%s: refused for a wrong secret", async (kind) => {
    const sender = createNotificationSender({ targets: RECEIVER_TARGETS, clock: fixedClock() });
    const error = await caught(sender.send(target(kind), runNotice()));
    for (const credential of credentials(receivers[kind].url))
      expect(error.message).not.toContain(credential);
  });

  it.each(KINDS)("%s: a 4xx whose body echoes the URL and the secret", async (kind) => {
    const url = receivers[kind].url;
    receivers[kind].failNext(1, { status: 400, body: `bad request to ${url} with ${SECRET}` });
    const error = await caught(
      createNotificationSender({ targets: RECEIVER_TARGETS, clock: fixedClock() }).send(
        target(kind),
        runNotice(),
      ),
    );
    expect(error).toBeInstanceOf(PermanentError);
    // A generic webhook's answer is never quoted (it is stored on the run); a robot's is, with credentials cut.
    if (kind === "webhook") expect(error.message).toMatch(/: HTTP 400$/);
    else expect(error.message).toContain("[redacted]");
    for (const credential of credentials(url)) expect(error.message).not.toContain(credential);
  });
});

describe("the network", () => {
  it("a refused connection is retryable and names only the host", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const url = `http://127.0.0.1:${port}/robot/send?access_token=tok-abcdef-123456`;
    const error = await caught(
      createNotificationSender({ targets: RECEIVER_TARGETS }).send(target("dingtalk", url), runNotice()),
    );
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).not.toContain("tok-abcdef-123456");
  });

  describe("a service that never answers", () => {
    let silent: Server;
    beforeAll(async () => {
      silent = createServer(() => {});
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    });
    afterAll(
      () =>
        new Promise<void>((resolve) => {
          silent.closeAllConnections();
          silent.close(() => resolve());
        }),
    );

    it("times out as retryable", async () => {
      const { port } = silent.address() as AddressInfo;
      const sender = createNotificationSender({ targets: RECEIVER_TARGETS, timeoutMs: 200 });
      const error = await caught(
        sender.send(target("slack", `http://127.0.0.1:${port}/services/T/B/xyz`), runNotice()),
      );
      expect(error).toBeInstanceOf(RetryableError);
      expect(error.message).toContain("no answer within 200 ms");
    });
  });
});

describe("HTTP classification, the same for every kind", () => {
  it.each(KINDS)("%s: 500, 503 and 429 are retryable; 403 is permanent", async (kind) => {
    const sender = createNotificationSender({ targets: RECEIVER_TARGETS, clock: fixedClock() });
    for (const status of [500, 503, 429]) {
      receivers[kind].failNext(1, { status, body: "no" });
      expect(await caught(sender.send(target(kind), runNotice())), `${kind} ${status}`).toBeInstanceOf(
        RetryableError,
      );
    }
    receivers[kind].failNext(1, { status: 403, body: "forbidden" });
    expect(await caught(sender.send(target(kind), runNotice()))).toBeInstanceOf(PermanentError);
  });

  it("Retry-After as an HTTP date becomes seconds from now", async () => {
    const at = new Date(FIXED_NOW_MS + 90_000).toUTCString();
    receivers.slack.failNext(1, { status: 429, body: "rate_limited", headers: { "retry-after": at } });
    const sender = createNotificationSender({ targets: RECEIVER_TARGETS, clock: fixedClock() });
    const error = await caught(
      sender.send(Notifier.parse({ kind: "slack", url: receivers.slack.url }), runNotice()),
    );
    expect((error as RetryableError).retryAfterSeconds).toBe(90);
  });
});
