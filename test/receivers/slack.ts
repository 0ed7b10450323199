import { accept, jsonBody, type Receiver, type Reply, reject, startReceiver } from "./receiver.js";

/**
 * A Slack incoming webhook at /services/T…/B…/<secret>: accepts a JSON payload with `text` and/or `blocks` and
 * answers "ok" as text; refuses with Slack's error names (no_service 404, invalid_payload / invalid_blocks 400,
 * no_text 400), and with 429 plus Retry-After when rate limited. Checks the Block Kit limits that matter here.
 */

export interface SlackReceiverOptions {
  path?: string;
}

export const SLACK_RATE_LIMITED: Reply = {
  status: 429,
  body: "rate_limited",
  headers: { "retry-after": "7" },
};
const OK: Reply = { status: 200, body: "ok" };
const BLOCK_TYPES = new Set(["header", "section", "actions", "context", "divider", "image"]);

export function startSlackReceiver(options: SlackReceiverOptions = {}): Promise<Receiver> {
  const path = options.path ?? "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX";
  return startReceiver({
    path,
    rateLimitReply: SLACK_RATE_LIMITED,
    judge(request) {
      if (request.method !== "POST" || request.path !== path)
        return reject("unknown webhook", { status: 404, body: "no_service" });
      const body = jsonBody(request);
      if (!body) return reject("payload is not JSON", { status: 400, body: "invalid_payload" });
      if (body.blocks === undefined && typeof body.text !== "string")
        return reject("neither text nor blocks", { status: 400, body: "no_text" });
      if (body.blocks !== undefined) {
        const problem = blocksProblem(body.blocks);
        if (problem) return reject(problem, { status: 400, body: "invalid_blocks" });
      }
      return accept(OK);
    },
  });
}

interface Block {
  type?: string;
  text?: { type?: string; text?: string };
  fields?: Array<{ text?: string }>;
  elements?: unknown;
}

const chars = (text: string | undefined) => [...(text ?? "")].length;

function blocksProblem(blocks: unknown): string | undefined {
  if (!Array.isArray(blocks) || blocks.length === 0 || blocks.length > 50) return "blocks must be 1 to 50";
  for (const block of blocks as Block[]) {
    if (!block.type || !BLOCK_TYPES.has(block.type)) return `unknown block type ${block.type}`;
    if (block.type === "header" && (block.text?.type !== "plain_text" || chars(block.text.text) > 150))
      return "header text must be plain_text of at most 150 characters";
    if (block.type === "section") {
      const { text, fields } = block;
      if (!text && !fields) return "section without text or fields";
      if (fields && (fields.length > 10 || fields.some((f) => chars(f.text) > 2000)))
        return "section fields: at most 10, of at most 2000 characters";
      if (text && chars(text.text) > 3000) return "section text over 3000 characters";
    }
    if (block.type === "actions" && !Array.isArray(block.elements)) return "actions without elements";
  }
  return undefined;
}
