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
 * A DingTalk custom robot at /robot/send?access_token=<token>, written from DingTalk's guide: with signing
 * ("加签") enabled, the query must carry `timestamp` (milliseconds, within one hour of now) and `sign` =
 * urlEncode(base64(HMAC-SHA256(key = secret, message = timestamp + "\n" + secret))); otherwise errcode 310000.
 * The query is decoded before comparing, as any HTTP server does.
 */

export interface DingtalkReceiverOptions {
  accessToken?: string;
  secret?: string;
  nowMs?: () => number;
}

export const DINGTALK_SIGN_NOT_MATCH: Reply = {
  status: 200,
  body: { errcode: 310000, errmsg: "sign not match" },
};
export const DINGTALK_RATE_LIMITED: Reply = {
  status: 200,
  body: { errcode: 130101, errmsg: "send too fast, exceed 20 times per minute" },
};
const INVALID_TIMESTAMP: Reply = { status: 200, body: { errcode: 310000, errmsg: "invalid timestamp" } };
const INVALID_PARAM: Reply = { status: 200, body: { errcode: 40035, errmsg: "invalid param" } };
const OK: Reply = { status: 200, body: { errcode: 0, errmsg: "ok" } };

const MAX_SKEW_MS = 3600 * 1000;

export function startDingtalkReceiver(options: DingtalkReceiverOptions = {}): Promise<Receiver> {
  const token = options.accessToken ?? "6c1f0a7d2b9e4c3f8a5d7e9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d";
  const now = options.nowMs ?? Date.now;
  return startReceiver({
    path: `/robot/send?access_token=${token}`,
    rateLimitReply: DINGTALK_RATE_LIMITED,
    judge(request) {
      if (request.method !== "POST" || request.path !== "/robot/send" || request.query.access_token !== token)
        return reject("unknown access_token", {
          status: 200,
          body: { errcode: 300001, errmsg: "token is not exist" },
        });

      if (options.secret) {
        const { timestamp, sign } = request.query;
        if (!timestamp || !sign) return reject("timestamp or sign missing", DINGTALK_SIGN_NOT_MATCH);
        const ms = Number(timestamp);
        if (!Number.isInteger(ms) || Math.abs(now() - ms) > MAX_SKEW_MS)
          return reject("timestamp not within one hour", INVALID_TIMESTAMP);
        const expected = createHmac("sha256", options.secret)
          .update(`${timestamp}\n${options.secret}`)
          .digest("base64");
        if (!sameSecret(sign, expected)) return reject("sign mismatch", DINGTALK_SIGN_NOT_MATCH);
      }

      const body = jsonBody(request);
      if (!body || !validMessage(body)) return reject("not a robot message", INVALID_PARAM);
      return accept(OK);
    },
  });
}

function validMessage(body: Record<string, unknown>): boolean {
  const part = (name: string) => body[name] as Record<string, unknown> | undefined;
  switch (body.msgtype) {
    case "text":
      return typeof part("text")?.content === "string";
    case "markdown":
      return typeof part("markdown")?.title === "string" && typeof part("markdown")?.text === "string";
    case "actionCard": {
      const card = part("actionCard");
      const single = typeof card?.singleTitle === "string" && typeof card?.singleURL === "string";
      return (
        typeof card?.title === "string" &&
        typeof card?.text === "string" &&
        (single || Array.isArray(card?.btns))
      );
    }
    default:
      return false;
  }
}
