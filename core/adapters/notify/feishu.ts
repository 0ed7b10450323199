import type { RunNotice } from "../../ports.js";
import { type Channel, codeRefusal, JSON_HEADERS } from "./channel.js";
import { feishuSign } from "./signing.js";
import { describeNotice, type Tone } from "./view.js";

/**
 * Feishu/Lark custom bot (open.feishu.cn/open-apis/bot/v2/hook/<token>): an interactive card whose header colour
 * is the outcome. Documented limits: 5 requests per second and 100 per minute per bot, a body of 20 KB;
 * success is `code` 0 (older answers carry `StatusCode` instead).
 */

const TEMPLATES: Record<Tone, string> = {
  success: "green",
  failure: "red",
  canceled: "grey",
  running: "blue",
  waiting: "orange",
};

/** 11232: flow control ("frequency limited"). */
const RATE_LIMITED = 11232;
/**
 * 9499 is documented as "Bad Request" (a malformed body), but Feishu also answers it with msg "too many
 * request"; only the latter is worth retrying.
 */
const BAD_REQUEST = 9499;

export interface FeishuMessage {
  msg_type: "interactive";
  card: {
    config: { wide_screen_mode: boolean };
    header: { template: string; title: { tag: "plain_text"; content: string } };
    elements: unknown[];
  };
}

/**
 * The unsigned message. Values are `plain_text`, never `lark_md`: a commit message or author name could
 * otherwise carry markup such as `<at id=all>`, which would mention the whole group.
 */
export function renderFeishu(notice: RunNotice): FeishuMessage {
  const view = describeNotice(notice);
  const text = (content: string) => ({ tag: "div", text: { tag: "plain_text", content } });
  const elements: unknown[] = [
    {
      tag: "div",
      fields: view.facts.map((fact) => ({
        is_short: true,
        text: { tag: "plain_text", content: `${fact.label}: ${fact.value}` },
      })),
    },
  ];
  if (view.commitMessage) elements.push(text(`Message: ${view.commitMessage}`));
  if (view.failure)
    elements.push(
      text(`Failed task: ${view.failure.task}${view.failure.message ? ` — ${view.failure.message}` : ""}`),
    );
  if (view.approvers) elements.push(text(`May approve: ${view.approvers.join(", ")}`));
  elements.push({
    tag: "action",
    actions: [
      { tag: "button", text: { tag: "plain_text", content: "View run" }, type: "primary", url: view.url },
    ],
  });
  return {
    msg_type: "interactive",
    card: {
      config: { wide_screen_mode: true },
      header: {
        template: TEMPLATES[view.tone],
        title: { tag: "plain_text", content: `${view.emoji} ${view.title}` },
      },
      elements,
    },
  };
}

export const feishu: Channel = {
  request(target, notice, nowMs) {
    const message = renderFeishu(notice);
    const timestamp = Math.floor(nowMs / 1000);
    const body = target.secret
      ? { timestamp: String(timestamp), sign: feishuSign(target.secret, timestamp), ...message }
      : message;
    return { url: target.url, body: JSON.stringify(body), headers: { ...JSON_HEADERS } };
  },
  refusal: (reply) =>
    codeRefusal(reply, {
      code: ["code", "StatusCode"],
      message: ["msg", "StatusMessage"],
      retryable: (code, message) =>
        code === RATE_LIMITED || (code === BAD_REQUEST && /too many|frequen|rate limit/i.test(message)),
    }),
};
