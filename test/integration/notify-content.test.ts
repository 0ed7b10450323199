import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createNotificationSender } from "../../core/adapters/notify/index.js";
import { Notifier, type NotifierKind } from "../../core/model/index.js";
import { FIXED_NOW_MS, fixedClock, RECEIVER_TARGETS, waitingNotice } from "../receivers/fixtures.js";
import { RECEIVER_SECRETS, type Receivers, startReceivers } from "../receivers/index.js";

const KINDS: NotifierKind[] = ["feishu", "dingtalk", "wecom", "slack", "webhook"];

describe("one notice to every receiver", () => {
  let receivers: Receivers;
  beforeAll(async () => {
    receivers = await startReceivers({ nowMs: () => FIXED_NOW_MS });
  });
  afterAll(() => receivers.close());
  beforeEach(() => receivers.reset());

  it("each service accepts it, and each body shows the approvers", async () => {
    const sender = createNotificationSender({ targets: RECEIVER_TARGETS, clock: fixedClock() });
    const targets: Notifier[] = [
      { kind: "feishu", url: receivers.feishu.url, secret: RECEIVER_SECRETS.feishuSecret },
      { kind: "dingtalk", url: receivers.dingtalk.url, secret: RECEIVER_SECRETS.dingtalkSecret },
      { kind: "wecom", url: receivers.wecom.url },
      { kind: "slack", url: receivers.slack.url },
      { kind: "webhook", url: receivers.webhook.url, secret: RECEIVER_SECRETS.webhookSecret },
    ].map((t) => Notifier.parse({ ...t, on: ["task.waiting"] }));
    for (const target of targets) await sender.send(target, waitingNotice());
    for (const kind of KINDS) {
      const receiver = receivers[kind];
      expect(receiver.rejected, kind).toEqual([]);
      expect(receiver.accepted, kind).toHaveLength(1);
      expect(receiver.accepted[0]!.body, kind).toMatch(/alice.*bob/);
    }
  });
});
