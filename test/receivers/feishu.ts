import { createHmac } from "node:crypto";
import {
  accept,
  jsonBody,
  type Receiver,
  type Reply,
  reject,
  sameSecret,
  startReceiver,
} from "./receiver.js";

/**
 * A Feishu/Lark custom bot at /open-apis/bot/v2/hook/<token>, written from Feishu's guide (not from hookflow's
 * code): with signing enabled, the body must carry `timestamp` (seconds, as a string) within one hour of now and
 * `sign` = base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = "")); otherwise code 19021. A body
 * over 20 KB or one that is not a message is code 9499 "Bad Request"; an unknown token, 19001.
 */

export interface FeishuReceiverOptions {
  token?: string;
  /** The bot's signing secret; without it, signatures are not checked (as with signing disabled). */
  secret?: string;
  nowMs?: () => number;
}

export const FEISHU_SIGN_FAILED: Reply = {
  status: 200,
  body: {
    code: 19021,
    data: {},
    msg: "sign match fail or timestamp is not within one hour from current time",
  },
};
export const FEISHU_RATE_LIMITED: Reply = {
  status: 200,
  body: { code: 11232, data: {}, msg: "frequency limited" },
};
const BAD_REQUEST: Reply = { status: 200, body: { code: 9499, data: {}, msg: "Bad Request" } };
const OK: Reply = {
  status: 200,
  body: { StatusCode: 0, StatusMessage: "success", code: 0, data: {}, msg: "success" },
};

const MAX_BODY_BYTES = 20 * 1024;
const MAX_SKEW_SECONDS = 3600;
const MESSAGE_TYPES = new Set(["text", "post", "image", "share_chat", "interactive"]);

export function startFeishuReceiver(options: FeishuReceiverOptions = {}): Promise<Receiver> {
  const token = options.token ?? "0f4c6f1e-5a9b-4c52-9c1e-7d2b8e1a3f60";
  const now = options.nowMs ?? Date.now;
  const path = `/open-apis/bot/v2/hook/${token}`;
  return startReceiver({
    path,
    rateLimitReply: FEISHU_RATE_LIMITED,
    judge(request) {
      if (request.method !== "POST" || request.path !== path)
        return reject("unknown hook", {
          status: 200,
          body: { code: 19001, data: {}, msg: "param invalid: incoming webhook access token invalid" },
        });
      if (Buffer.byteLength(request.body, "utf8") > MAX_BODY_BYTES)
        return reject("body over 20 KB", BAD_REQUEST);
      const body = jsonBody(request);
      if (!body) return reject("body is not a JSON object", BAD_REQUEST);

      if (options.secret) {
        const { timestamp, sign } = body;
        if (typeof timestamp !== "string" || typeof sign !== "string")
          return reject("timestamp or sign missing", FEISHU_SIGN_FAILED);
        const seconds = Number(timestamp);
        if (!Number.isInteger(seconds) || Math.abs(now() / 1000 - seconds) > MAX_SKEW_SECONDS)
          return reject("timestamp not within one hour", FEISHU_SIGN_FAILED);
        const expected = createHmac("sha256", `${timestamp}\n${options.secret}`).update("").digest("base64");
        if (!sameSecret(sign, expected)) return reject("sign mismatch", FEISHU_SIGN_FAILED);
      }

      if (typeof body.msg_type !== "string" || !MESSAGE_TYPES.has(body.msg_type))
        return reject("unknown msg_type", BAD_REQUEST);
      if (body.msg_type === "interactive" && !isCard(body.card))
        return reject("interactive without a card", BAD_REQUEST);
      return accept(OK);
    },
  });
}

function isCard(card: unknown): boolean {
  if (card === null || typeof card !== "object") return false;
  const { header, elements } = card as { header?: { title?: { content?: unknown } }; elements?: unknown };
  return typeof header?.title?.content === "string" && Array.isArray(elements) && elements.length > 0;
}
