import type { Notifier } from "../../model/index.js";
import type { RunNotice } from "../../ports.js";
import { type HttpReply, jsonOf, type OutgoingRequest, type ServiceRefusal } from "./http.js";

/** One IM service or webhook flavour: how to build its request, and how it says no. */
export interface Channel {
  /** The request for `notice`: rendered by the pure render function, signed when the target has a secret. */
  request(target: Notifier, notice: RunNotice, nowMs: number): OutgoingRequest;
  /** A refusal stated in the answer's body; undefined when the body accepts (or says nothing). */
  refusal(reply: HttpReply): ServiceRefusal | undefined;
}

export const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" } as const;

export interface CodeConvention {
  /** Field names holding the code and its message, in order of preference. */
  code: string[];
  message: string[];
  /** Whether a code (with its message) means "slow down" rather than "this will never work". */
  retryable(code: number, message: string): boolean;
  retryAfterSeconds?: number;
}

/**
 * Reads a `{code: 0}`-style answer (Feishu's `code`, DingTalk's and WeCom's `errcode`). An answer without a
 * code is left to the HTTP status; a 2xx answer that is not JSON at all is a refusal, since these services
 * always answer JSON and anything else came from something in between.
 */
export function codeRefusal(reply: HttpReply, convention: CodeConvention): ServiceRefusal | undefined {
  const body = jsonOf(reply);
  if (!body) {
    const ok = reply.status >= 200 && reply.status < 300;
    return ok ? { code: "none", message: "the answer is not JSON", retryable: false } : undefined;
  }
  const code = convention.code
    .map((field) => body[field])
    .find((value): value is number => typeof value === "number");
  if (code === undefined || code === 0) return undefined;
  const text =
    convention.message
      .map((field) => body[field])
      .find((value): value is string => typeof value === "string") ?? "";
  const retryable = convention.retryable(code, text);
  return {
    code,
    message: text,
    retryable,
    ...(retryable &&
      convention.retryAfterSeconds !== undefined && { retryAfterSeconds: convention.retryAfterSeconds }),
  };
}
