import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  dingtalk,
  dingtalkSign,
  feishu,
  feishuSign,
  webhook,
  webhookSignature,
} from "../../core/adapters/notify/index.js";
import { Notifier } from "../../core/model/index.js";
import { runNotice } from "../receivers/fixtures.js";

/*
 * Known values, worked out with Python's hmac module (a third implementation, independent of both hookflow and
 * the receivers):
 *   Feishu:   base64(hmac.new(f"{ts}\n{secret}".encode(), b"", sha256).digest())       ts in seconds
 *   DingTalk: base64(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), sha256).digest())  ts in ms,
 *             then urllib.parse.quote_plus for the URL
 *   webhook:  "sha256=" + hmac.new(secret, body, sha256).hexdigest()
 */
const FEISHU = {
  secret: "test-secret",
  ts: 1599360473,
  sign: "wSds2BzzFIIGf/WrhUO+NI1q/9j+FRJd3JNHKAq0NZY=",
};
const DINGTALK = {
  secret: "SEC000example",
  ts: 1700000000000,
  sign: "xyAXnOeEx8mcnUUlZoyxvRe/La8u0eqZaWsTXunfdkQ=",
  encoded: "xyAXnOeEx8mcnUUlZoyxvRe%2FLa8u0eqZaWsTXunfdkQ%3D",
};

describe("signing formulas against known values", () => {
  it("Feishu: the key is timestamp + newline + secret, the message is empty", () => {
    expect(feishuSign(FEISHU.secret, FEISHU.ts)).toBe(FEISHU.sign);
    // The same formula, spelled out with node:crypto.
    const key = `${FEISHU.ts}\n${FEISHU.secret}`;
    expect(createHmac("sha256", key).update("").digest("base64")).toBe(FEISHU.sign);
  });

  it("DingTalk: the key is the secret, the message is timestamp + newline + secret", () => {
    expect(dingtalkSign(DINGTALK.secret, DINGTALK.ts)).toBe(DINGTALK.sign);
    const message = `${DINGTALK.ts}\n${DINGTALK.secret}`;
    expect(createHmac("sha256", DINGTALK.secret).update(message).digest("base64")).toBe(DINGTALK.sign);
  });

  it("the two schemes differ: swapping key and message gives another signature", () => {
    const swapped = createHmac("sha256", FEISHU.secret)
      .update(`${FEISHU.ts}\n${FEISHU.secret}`)
      .digest("base64");
    expect(swapped).not.toBe(FEISHU.sign);
  });

  it("webhook: sha256= and the hex HMAC of the exact body", () => {
    const body = '{"hookflow":1,"event":"run.failed"}';
    expect(webhookSignature("hookflow-webhook-secret-42", body)).toBe(
      "sha256=fdf821a48e7d46e5b577e72375b83f3700e0676e78eaeb5c4ce54b7cc2b5c56f",
    );
  });
});

describe("where each signature goes", () => {
  const notice = runNotice();

  it("Feishu: timestamp in seconds, as a string, and sign at the top of the JSON body", () => {
    const target = Notifier.parse({
      kind: "feishu",
      url: "https://open.feishu.cn/open-apis/bot/v2/hook/abc",
      secret: FEISHU.secret,
    });
    const request = feishu.request(target, notice, FEISHU.ts * 1000 + 999);
    const body = JSON.parse(request.body);
    expect(body.timestamp).toBe(String(FEISHU.ts));
    expect(body.sign).toBe(FEISHU.sign);
    expect(Object.keys(body).slice(0, 3)).toEqual(["timestamp", "sign", "msg_type"]);
    expect(request.url).toBe(target.url);
  });

  it("DingTalk: timestamp in milliseconds and the URL-encoded sign appended to the query, token kept", () => {
    const target = Notifier.parse({
      kind: "dingtalk",
      url: "https://oapi.dingtalk.com/robot/send?access_token=tok123",
      secret: DINGTALK.secret,
    });
    const request = dingtalk.request(target, notice, DINGTALK.ts);
    expect(request.url).toBe(
      `https://oapi.dingtalk.com/robot/send?access_token=tok123&timestamp=${DINGTALK.ts}&sign=${DINGTALK.encoded}`,
    );
    expect(JSON.parse(request.body)).not.toHaveProperty("sign");
  });

  it("no secret, no signature", () => {
    const f = Notifier.parse({ kind: "feishu", url: "https://open.feishu.cn/open-apis/bot/v2/hook/abc" });
    expect(JSON.parse(feishu.request(f, notice, 0).body)).not.toHaveProperty("sign");
    const d = Notifier.parse({
      kind: "dingtalk",
      url: "https://oapi.dingtalk.com/robot/send?access_token=t",
    });
    expect(dingtalk.request(d, notice, 0).url).toBe(d.url);
    const w = Notifier.parse({ kind: "webhook", url: "https://ci.example.com/hook" });
    expect(webhook.request(w, notice, 0).headers).not.toHaveProperty("x-hookflow-signature-256");
  });

  it("webhook: the header signs the bytes that are sent", () => {
    const target = Notifier.parse({ kind: "webhook", url: "https://ci.example.com/hook", secret: "s3cret" });
    const request = webhook.request(target, notice, 0);
    const expected = `sha256=${createHmac("sha256", "s3cret").update(Buffer.from(request.body, "utf8")).digest("hex")}`;
    expect(request.headers["x-hookflow-signature-256"]).toBe(expected);
  });
});
