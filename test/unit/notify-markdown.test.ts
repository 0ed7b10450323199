import { describe, expect, it } from "vitest";
import { renderDingtalk, renderSlack, renderWecom } from "../../core/adapters/notify/index.js";
import { runNotice } from "../receivers/fixtures.js";

/** What a commit author controls, written to do in a robot's message what only hookflow may. */
const HOSTILE = runNotice({
  trigger: {
    ...runNotice().trigger,
    branch: "fix/<@alice>",
    message:
      'All good <font color="info">succeeded</font> [details](https://evil.example/x) <@zhangsan> **ok**',
    author: "Mallory <@all> ![x](https://evil.example/p.png)",
  },
  failedTask: { name: "unit", message: "line one\n### Fake heading\n> quoted `code` ~~gone~~ _it_" },
});

function wecomText(): string {
  return renderWecom(HOSTILE).markdown.content;
}
function dingtalkText(): string {
  return renderDingtalk(HOSTILE).actionCard.text;
}

describe("robot markdown carries outside text as text", () => {
  it.each([
    ["wecom", wecomText],
    ["dingtalk", dingtalkText],
  ])("%s: no link, image, font, mention or emphasis comes from a commit", (_, text) => {
    const content = text();
    // hookflow's own markup stays: WeCom colours the status and the failed task, and ends with the run's link.
    const fonts = content.match(/<font/g) ?? [];
    expect(fonts.length).toBe(content.includes("<font color=") ? 2 : 0);
    expect(content).not.toContain("<@");
    expect(content).not.toContain("](https://evil.example");
    expect(content).not.toContain("**ok**");
    expect(content).not.toMatch(/\n#+ Fake/);
    expect(content).not.toMatch(/\n> quoted/);
    expect(content).not.toContain("`code`");
    // Still readable: the same words, in full-width brackets.
    expect(content).toContain("＜@zhangsan＞");
    expect(content).toContain("［details］(https://evil.example/x)");
    expect(content).toContain("Mallory");
  });

  it("wecom: the only font tags are hookflow's status and failed task", () => {
    expect(wecomText().match(/<font color="[a-z]+">/g)).toEqual([
      '<font color="warning">',
      '<font color="warning">',
    ]);
  });

  it("slack: angle brackets escaped and outside text not auto-parsed into mentions", () => {
    const blocks = JSON.stringify(renderSlack(HOSTILE).blocks);
    expect(blocks).not.toContain("<@");
    expect(blocks).toContain("&lt;@zhangsan&gt;");
    const texts = renderSlack(HOSTILE).blocks.flatMap((block) => {
      const b = block as {
        text?: { type: string; verbatim?: boolean };
        fields?: Array<{ verbatim?: boolean }>;
      };
      return [...(b.text?.type === "mrkdwn" ? [b.text] : []), ...(b.fields ?? [])];
    });
    expect(texts.length).toBeGreaterThan(3);
    for (const t of texts) expect(t.verbatim).toBe(true);
  });
});
