import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { eksToken, eksTokenSource } from "../../core/adapters/kubernetes/eks-token.js";

const credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "session/token+1=",
};
const now = new Date("2026-12-01T13:00:00Z");

/** Signature V4 of a presigned GET, computed here from the specification, independently of the signer. */
function expectedSignature(query: URLSearchParams, cluster: string, region: string) {
  const enc = (s: string) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const params = [...query.entries()].filter(([k]) => k !== "X-Amz-Signature");
  const canonicalQuery = params
    .map(([k, v]) => [enc(k), enc(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const host = `sts.${region}.amazonaws.com`;
  const canonical = [
    "GET",
    "/",
    canonicalQuery,
    `host:${host}\nx-k8s-aws-id:${cluster}\n`,
    "host;x-k8s-aws-id",
    createHash("sha256").update("").digest("hex"),
  ].join("\n");
  const scope = `20261201/${region}/sts/aws4_request`;
  const toSign = [
    "AWS4-HMAC-SHA256",
    "20261201T130000Z",
    scope,
    createHash("sha256").update(canonical).digest("hex"),
  ].join("\n");
  let key: Buffer = createHmac("sha256", `AWS4${credentials.secretAccessKey}`).update("20261201").digest();
  for (const part of [region, "sts", "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
  return createHmac("sha256", key).update(toSign).digest("hex");
}

describe("the EKS token (as `aws eks get-token` makes it)", () => {
  it("is k8s-aws-v1. and a base64url presigned STS GetCallerIdentity URL, signed with x-k8s-aws-id", async () => {
    const token = await eksToken({ cluster: "prod-cluster", region: "eu-west-1", credentials, now });
    expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    const url = new URL(Buffer.from(token.slice("k8s-aws-v1.".length), "base64url").toString());
    expect(`${url.origin}${url.pathname}`).toBe("https://sts.eu-west-1.amazonaws.com/");
    const q = url.searchParams;
    expect(Object.fromEntries([...q.entries()].filter(([k]) => k !== "X-Amz-Signature"))).toEqual({
      Action: "GetCallerIdentity",
      Version: "2011-06-15",
      "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
      "X-Amz-Credential": "AKIDEXAMPLE/20261201/eu-west-1/sts/aws4_request",
      "X-Amz-Date": "20261201T130000Z",
      "X-Amz-Expires": "60",
      "X-Amz-Security-Token": "session/token+1=",
      "X-Amz-SignedHeaders": "host;x-k8s-aws-id",
    });
    expect(q.get("X-Amz-Signature")).toBe(expectedSignature(q, "prod-cluster", "eu-west-1"));
    // Another cluster's name is another signature: the token is bound to its cluster.
    const other = await eksToken({ cluster: "other", region: "eu-west-1", credentials, now });
    expect(other).not.toBe(token);
  });

  it("is kept until five minutes before its fifteen end, then signed again with fresh credentials", async () => {
    let clock = now.getTime();
    let asked = 0;
    const source = eksTokenSource({
      cluster: "c",
      region: "us-east-1",
      credentials: async () => {
        asked += 1;
        return credentials;
      },
      now: () => clock,
    });
    const first = await source();
    clock += 9 * 60_000;
    expect(await source()).toBe(first);
    clock += 60_000;
    expect(await source()).not.toBe(first);
    expect(asked).toBe(2);
  });
});
