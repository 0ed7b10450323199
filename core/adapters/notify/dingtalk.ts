import type { RunNotice } from "../../ports.js";
import { type Channel, codeRefusal, JSON_HEADERS } from "./channel.js";
import { inertMarkdown as md } from "./markdown.js";
import { dingtalkSign } from "./signing.js";
import { describeNotice } from "./view.js";

/**
 * DingTalk custom robot (oapi.dingtalk.com/robot/send?access_token=…): an actionCard, markdown text with one
 * button to the run. DingTalk markdown has no colours, so the outcome is the title's emoji. Documented limit:
 * 20 messages per minute per robot; beyond it the robot is throttled for 10 minutes (errcode 130101).
 */

const RATE_LIMITED = 130101;
const THROTTLED_SECONDS = 600;

export interface DingtalkMessage {
  msgtype: "actionCard";
  actionCard: { title: string; text: string; btnOrientation: "0"; singleTitle: string; singleURL: string };
}

export function renderDingtalk(notice: RunNotice): DingtalkMessage {
  const view = describeNotice(notice);
  const title = `${view.emoji} ${view.title}`;
  // Every value is outside text (markdown.ts says why and how it is made inert); the labels are ours.
  const lines = [`### ${md(title)}`, ...view.facts.map((fact) => `**${fact.label}:** ${md(fact.value)}`)];
  if (view.commitMessage) lines.push(`**Message:** ${md(view.commitMessage)}`);
  if (view.failure)
    lines.push(
      `**Failed task:** ${md(view.failure.task)}${view.failure.message ? ` — ${md(view.failure.message)}` : ""}`,
    );
  if (view.approvers) lines.push(`**May approve:** ${md(view.approvers.join(", "))}`);
  return {
    msgtype: "actionCard",
    // DingTalk markdown needs a blank line to break a line.
    actionCard: {
      title,
      text: lines.join("\n\n"),
      btnOrientation: "0",
      singleTitle: "View run",
      singleURL: view.url,
    },
  };
}

export const dingtalk: Channel = {
  request(target, notice, nowMs) {
    const url = new URL(target.url);
    if (target.secret) {
      const timestamp = Math.floor(nowMs);
      url.searchParams.set("timestamp", String(timestamp));
      url.searchParams.set("sign", dingtalkSign(target.secret, timestamp));
    }
    return {
      url: url.toString(),
      body: JSON.stringify(renderDingtalk(notice)),
      headers: { ...JSON_HEADERS },
    };
  },
  refusal: (reply) =>
    codeRefusal(reply, {
      code: ["errcode"],
      message: ["errmsg"],
      retryable: (code) => code === RATE_LIMITED,
      retryAfterSeconds: THROTTLED_SECONDS,
    }),
};
