import { describe, expect, it } from "vitest";
import {
  createNotificationSender,
  formatDuration,
  RATE_LIMITS,
  renderDingtalk,
  renderFeishu,
  renderSlack,
  renderWebhook,
  renderWecom,
} from "../../core/adapters/notify/index.js";
import { PermanentError } from "../../core/errors.js";
import type { Notifier, NotifierKind } from "../../core/model/index.js";
import type { RunNotice } from "../../core/ports.js";
import { caught, RECEIVER_TARGETS, runNotice, waitingNotice } from "../receivers/fixtures.js";

const RENDERERS: Record<NotifierKind, (notice: RunNotice) => unknown> = {
  feishu: renderFeishu,
  dingtalk: renderDingtalk,
  wecom: renderWecom,
  slack: renderSlack,
  webhook: (notice) => JSON.parse(renderWebhook(notice)),
};
const KINDS = Object.keys(RENDERERS) as NotifierKind[];
/** Everything a reader should find, JSON-escaped as it appears in a body. */
const shown = (kind: NotifierKind) => JSON.stringify(RENDERERS[kind](runNotice()));

describe("every message shows what happened", () => {
  it.each(KINDS)("%s: pipeline, run, status, trigger, duration, failed task, link", (kind) => {
    const text = shown(kind);
    for (const expected of [
      "web-app",
      "01jd7k2m9qf3x8",
      "failed",
      "acme/web-app",
      "main",
      "9fceb02",
      "Alice Liddell",
      "Fix the login redirect",
      "unit",
      "exit code 1: 3 tests failed",
      "https://hookflow.example.com/api/runs/01jd7k2m9qf3x8",
    ])
      expect(text, `${kind} lacks ${expected}`).toContain(expected);
    if (kind !== "webhook") {
      expect(text).toContain("3m 12s");
      // Only the commit message's first line: a chat message is not the place for the whole body.
      expect(text).not.toContain("lost its query string");
    }
  });

  it.each(KINDS)("%s: who may approve a waiting task", (kind) => {
    const text = JSON.stringify(RENDERERS[kind](waitingNotice()));
    expect(text).toContain("alice");
    expect(text).toContain("bob");
    expect(text).toContain("deploy");
  });

  it.each(KINDS)("%s: a tag instead of a branch", (kind) => {
    const trigger = { ...runNotice().trigger, ref: "refs/tags/v1.4.0", branch: undefined, tag: "v1.4.0" };
    expect(JSON.stringify(RENDERERS[kind](runNotice({ trigger })))).toContain("v1.4.0");
  });

  it.each(KINDS.filter((k) => k !== "webhook"))("%s: no failed-task line for a success", (kind) => {
    const text = JSON.stringify(
      RENDERERS[kind](runNotice({ event: "run.succeeded", status: "succeeded", failedTask: undefined })),
    );
    expect(text).not.toContain("Failed task");
    expect(text).toContain("succeeded");
  });

  it("services without colours carry the outcome in an emoji", () => {
    expect(renderDingtalk(runNotice()).actionCard.title).toBe("❌ web-app: run failed");
    expect(renderSlack(runNotice({ event: "run.succeeded", status: "succeeded" })).text).toMatch(/^✅ /);
    expect(renderWecom(runNotice({ event: "run.canceled", status: "canceled" })).markdown.content).toMatch(
      /^### ⚪ /,
    );
  });
});

describe("renderings, byte for byte", () => {
  it("WeCom markdown for a waiting task", () => {
    expect(renderWecom(waitingNotice()).markdown.content).toBe(
      [
        "### ⏳ web-app: task deploy awaits approval",
        "> Pipeline: web-app",
        "> Run: 01jd7k2m9qf3x8",
        '> Status: <font color="warning">waiting</font>',
        "> Task: deploy (waiting)",
        "> Repository: acme/web-app (github)",
        "> Branch: main",
        "> Commit: 9fceb02",
        "> Author: Alice Liddell",
        "> Duration: 1m 15s",
        "> Message: Fix the login redirect",
        "> May approve: alice, bob",
        "[View run](https://hookflow.example.com/api/runs/01jd7k2m9qf3x8)",
      ].join("\n"),
    );
  });

  it("DingTalk actionCard for a failed run", () => {
    expect(renderDingtalk(runNotice())).toEqual({
      msgtype: "actionCard",
      actionCard: {
        title: "❌ web-app: run failed",
        text: [
          "### ❌ web-app: run failed",
          "**Pipeline:** web-app",
          "**Run:** 01jd7k2m9qf3x8",
          "**Status:** failed",
          "**Repository:** acme/web-app (github)",
          "**Branch:** main",
          "**Commit:** 9fceb02",
          "**Author:** Alice Liddell",
          "**Duration:** 3m 12s",
          "**Message:** Fix the login redirect",
          "**Failed task:** unit — exit code 1: 3 tests failed",
        ].join("\n\n"),
        btnOrientation: "0",
        singleTitle: "View run",
        singleURL: "https://hookflow.example.com/api/runs/01jd7k2m9qf3x8",
      },
    });
  });

  it("Feishu card: header, facts as plain text, button", () => {
    const { card } = renderFeishu(runNotice());
    expect(card.header).toEqual({
      template: "red",
      title: { tag: "plain_text", content: "❌ web-app: run failed" },
    });
    expect(card.elements).toEqual([
      {
        tag: "div",
        fields: [
          "Pipeline: web-app",
          "Run: 01jd7k2m9qf3x8",
          "Status: failed",
          "Repository: acme/web-app (github)",
          "Branch: main",
          "Commit: 9fceb02",
          "Author: Alice Liddell",
          "Duration: 3m 12s",
        ].map((content) => ({ is_short: true, text: { tag: "plain_text", content } })),
      },
      { tag: "div", text: { tag: "plain_text", content: "Message: Fix the login redirect" } },
      { tag: "div", text: { tag: "plain_text", content: "Failed task: unit — exit code 1: 3 tests failed" } },
      {
        tag: "action",
        actions: [
          {
            tag: "button",
            text: { tag: "plain_text", content: "View run" },
            type: "primary",
            url: "https://hookflow.example.com/api/runs/01jd7k2m9qf3x8",
          },
        ],
      },
    ]);
  });

  it("webhook body: the version marker first, then the notice as given", () => {
    const notice = runNotice();
    expect(renderWebhook(notice)).toBe(`{"hookflow":1,${JSON.stringify(notice).slice(1)}`);
  });
});

describe("durations", () => {
  it.each([
    [0, "0s"],
    [45, "45s"],
    [59.6, "1m 0s"],
    [192, "3m 12s"],
    [3600, "1h 0m 0s"],
    [7325, "2h 2m 5s"],
  ])("%s seconds read %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});

describe("rate limits for the delivery service", () => {
  it("follow each service's documentation", () => {
    expect(RATE_LIMITS).toEqual({
      feishu: { perSeconds: 1, max: 5 },
      dingtalk: { perSeconds: 60, max: 20 },
      wecom: { perSeconds: 60, max: 20 },
      slack: { perSeconds: 1, max: 1 },
      webhook: { perSeconds: 1, max: 100 },
    });
  });
});

describe("what each service is sent", () => {
  it("Slack: escapes &, < and > in mrkdwn, so a commit message cannot mention @channel", () => {
    const text = JSON.stringify(
      renderSlack(runNotice({ trigger: { ...runNotice().trigger, message: "<!channel> a & b" } })),
    );
    expect(text).toContain("&lt;!channel&gt; a &amp; b");
    expect(text).not.toContain("<!channel>");
  });

  it("WeCom: a short message is not cut", () => {
    const text = renderWecom(runNotice()).markdown.content;
    expect(text).not.toContain("(cut)");
    expect(Buffer.byteLength(text, "utf8")).toBeLessThan(1024);
  });

  it("an unknown kind is permanent", async () => {
    const bogus = {
      kind: "teams",
      url: "https://example.com/hook",
      on: ["run.failed"],
    } as unknown as Notifier;
    expect(
      await caught(createNotificationSender({ targets: RECEIVER_TARGETS }).send(bogus, runNotice())),
    ).toBeInstanceOf(PermanentError);
  });
});
