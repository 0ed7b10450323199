import type { RunNotice } from "../../ports.js";
import { type Channel, JSON_HEADERS } from "./channel.js";
import { clipChars, describeNotice } from "./view.js";

/**
 * Slack incoming webhook (hooks.slack.com/services/…): Block Kit blocks with a top-level `text` for
 * notifications and clients without blocks. Blocks have no colour, so the outcome is the header's emoji.
 * Slack answers "ok" (text) on success, an error string with a 4xx otherwise, and 429 with Retry-After when
 * a sender exceeds about one message per second.
 */

/** Block Kit limits: header text 150 characters, 10 fields per section, 2000 per field, 3000 per text. */
const HEADER_CHARS = 150;
const MAX_FIELDS = 10;
const FIELD_CHARS = 2000;
const SECTION_CHARS = 3000;

export interface SlackMessage {
  text: string;
  blocks: unknown[];
}

/**
 * Slack's mrkdwn treats these three as control characters (`<url|text>`, `<!channel>`, `<@U…>`); its
 * documentation asks for these escapes. Text objects holding outside text are also `verbatim`, so that Slack
 * does not turn a plain `@channel` or `#channel` in a commit subject into a mention or a link.
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function renderSlack(notice: RunNotice): SlackMessage {
  const view = describeNotice(notice);
  const title = `${view.emoji} ${view.title}`;
  const section = (label: string, value: string) => ({
    type: "section",
    text: {
      type: "mrkdwn",
      text: clipChars(`*${label}*\n${escapeSlack(value)}`, SECTION_CHARS),
      verbatim: true,
    },
  });
  const blocks: unknown[] = [
    { type: "header", text: { type: "plain_text", text: clipChars(title, HEADER_CHARS), emoji: true } },
    {
      type: "section",
      fields: view.facts.slice(0, MAX_FIELDS).map((fact) => ({
        type: "mrkdwn",
        text: clipChars(`*${fact.label}*\n${escapeSlack(fact.value)}`, FIELD_CHARS),
        verbatim: true,
      })),
    },
  ];
  if (view.commitMessage) blocks.push(section("Message", view.commitMessage));
  if (view.failure)
    blocks.push(
      section(
        "Failed task",
        `${view.failure.task}${view.failure.message ? ` — ${view.failure.message}` : ""}`,
      ),
    );
  if (view.approvers) blocks.push(section("May approve", view.approvers.join(", ")));
  blocks.push({
    type: "actions",
    elements: [{ type: "button", text: { type: "plain_text", text: "View run" }, url: view.url }],
  });
  return { text: `${escapeSlack(title)} (status: ${notice.status}): ${view.url}`, blocks };
}

export const slack: Channel = {
  request: (target, notice) => ({
    url: target.url,
    body: JSON.stringify(renderSlack(notice)),
    headers: { ...JSON_HEADERS },
  }),
  // Slack's answers are plain text: "ok", or an error name such as invalid_payload or no_service.
  refusal(reply) {
    const text = reply.text.trim();
    return text === "ok"
      ? undefined
      : { code: text.slice(0, 100) || "empty answer", message: "", retryable: false };
  },
};
