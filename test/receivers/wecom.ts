import { accept, jsonBody, type Receiver, type Reply, reject, startReceiver } from "./receiver.js";

/**
 * A WeCom group robot at /cgi-bin/webhook/send?key=<key>: markdown content is at most 4096 bytes of UTF-8
 * (errcode 40058 beyond, the answer WeCom gives); no signing, the key is the credential (93000 when unknown).
 */

export interface WecomReceiverOptions {
  key?: string;
}

export const WECOM_TOO_LONG: Reply = {
  status: 200,
  body: { errcode: 40058, errmsg: "markdown.content exceed max length 4096. invalid Request Parameter" },
};
export const WECOM_RATE_LIMITED: Reply = {
  status: 200,
  body: { errcode: 45009, errmsg: "api freq out of limit" },
};
const INVALID_URL: Reply = { status: 200, body: { errcode: 93000, errmsg: "invalid webhook url" } };
const INVALID_MESSAGE: Reply = { status: 200, body: { errcode: 40008, errmsg: "invalid message type" } };
const OK: Reply = { status: 200, body: { errcode: 0, errmsg: "ok" } };

export const WECOM_MARKDOWN_MAX_BYTES = 4096;

export function startWecomReceiver(options: WecomReceiverOptions = {}): Promise<Receiver> {
  const key = options.key ?? "693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa";
  return startReceiver({
    path: `/cgi-bin/webhook/send?key=${key}`,
    rateLimitReply: WECOM_RATE_LIMITED,
    judge(request) {
      if (request.method !== "POST" || request.path !== "/cgi-bin/webhook/send" || request.query.key !== key)
        return reject("unknown key", INVALID_URL);
      const body = jsonBody(request);
      const content = (body?.markdown as { content?: unknown } | undefined)?.content;
      if (body?.msgtype !== "markdown" || typeof content !== "string")
        return reject("not a markdown message", INVALID_MESSAGE);
      if (Buffer.byteLength(content, "utf8") > WECOM_MARKDOWN_MAX_BYTES)
        return reject("markdown content over 4096 bytes", WECOM_TOO_LONG);
      return accept(OK);
    },
  });
}
