import type { RunNotice } from "../../ports.js";
import { type Channel, codeRefusal, JSON_HEADERS } from "./channel.js";
import { inertMarkdown as md } from "./markdown.js";
import { clipUtf8, describeNotice, type Tone } from "./view.js";

/**
 * WeCom group robot (qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…): markdown, whose content may hold at most
 * 4096 bytes of UTF-8 (errcode 40058 beyond). It has no signing; the key in the URL is the credential.
 * Documented limit: 20 messages per minute per robot (errcode 45009 beyond).
 */

export const WECOM_MAX_BYTES = 4096;
const RATE_LIMITED = 45009;
const CUT_MARKER = "\n… (cut)";

/** WeCom markdown knows three font colours: info (green), warning (orange-red), comment (grey). */
const COLOURS: Record<Tone, string> = {
  success: "info",
  failure: "warning",
  canceled: "comment",
  running: "comment",
  waiting: "warning",
};

export interface WecomMessage {
  msgtype: "markdown";
  markdown: { content: string };
}

export function renderWecom(notice: RunNotice): WecomMessage {
  const view = describeNotice(notice);
  // Every value is outside text (markdown.ts says why and how it is made inert); the labels and colours are ours.
  const lines = [
    `### ${view.emoji} ${md(view.title)}`,
    ...view.facts.map((fact) =>
      fact.label === "Status"
        ? `> Status: <font color="${COLOURS[view.tone]}">${md(fact.value)}</font>`
        : `> ${fact.label}: ${md(fact.value)}`,
    ),
  ];
  if (view.commitMessage) lines.push(`> Message: ${md(view.commitMessage)}`);
  if (view.failure)
    lines.push(
      `> Failed task: <font color="warning">${md(view.failure.task)}</font>${view.failure.message ? ` — ${md(view.failure.message)}` : ""}`,
    );
  if (view.approvers) lines.push(`> May approve: ${md(view.approvers.join(", "))}`);
  // The link goes last and is never cut: it is the one thing a reader of a shortened message still needs.
  const link = `\n[View run](${view.url})`;
  const room = WECOM_MAX_BYTES - Buffer.byteLength(link, "utf8");
  return { msgtype: "markdown", markdown: { content: clipUtf8(lines.join("\n"), room, CUT_MARKER) + link } };
}

export const wecom: Channel = {
  request: (target, notice) => ({
    url: target.url,
    body: JSON.stringify(renderWecom(notice)),
    headers: { ...JSON_HEADERS },
  }),
  refusal: (reply) =>
    codeRefusal(reply, {
      code: ["errcode"],
      message: ["errmsg"],
      retryable: (code) => code === RATE_LIMITED,
    }),
};
