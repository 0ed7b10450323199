import { createHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";

/** AWS credentials, as the SDK's default provider chain gives them (a Lambda's role: from its environment). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** How long a token is valid: EKS accepts a presigned URL for 15 minutes; it is renewed well before. */
export const EKS_TOKEN_LIFETIME_MS = 15 * 60_000;
const RENEW_BEFORE_MS = 5 * 60_000;

/** node:crypto behind the Checksum interface the signer takes (with a key, an HMAC). */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | Uint8Array | ArrayBuffer | ArrayBufferView) {
    this.hash = secret
      ? createHmac("sha256", typeof secret === "string" ? secret : Buffer.from(secret as Uint8Array))
      : createHash("sha256");
  }
  update(data: string | Uint8Array) {
    this.hash.update(data);
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
  reset() {}
}

/**
 * An EKS bearer token, as `aws eks get-token` makes it: a GetCallerIdentity request to STS presigned for 60 s with
 * the cluster's name in the signed `x-k8s-aws-id` header, base64url without padding, after `k8s-aws-v1.`. EKS
 * calls STS with it and maps the caller's IAM role to a Kubernetes user (an access entry or aws-auth).
 */
export async function eksToken(options: {
  cluster: string;
  region: string;
  credentials: AwsCredentials;
  now: Date;
}): Promise<string> {
  const signer = new SignatureV4({
    credentials: options.credentials,
    region: options.region,
    service: "sts",
    sha256: Sha256,
    applyChecksum: false,
  });
  const hostname = `sts.${options.region}.amazonaws.com`;
  const signed = await signer.presign(
    {
      method: "GET",
      protocol: "https:",
      hostname,
      path: "/",
      query: { Action: "GetCallerIdentity", Version: "2011-06-15" },
      headers: { host: hostname, "x-k8s-aws-id": options.cluster },
    },
    { expiresIn: 60, signingDate: options.now },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join("&");
  const url = `https://${hostname}/?${query}`;
  return `k8s-aws-v1.${Buffer.from(url).toString("base64url")}`;
}

/** Signing in to an EKS cluster with an IAM identity (HOOKFLOW_EKS_CLUSTER): the cluster, its region, whose keys. */
export interface EksSignIn {
  cluster: string;
  region: string;
  credentials: () => Promise<AwsCredentials>;
  now?: () => number;
}

/**
 * A token source that signs with fresh credentials and keeps a token until 5 minutes before its 15 minutes end,
 * so a warm Lambda does not sign on every request.
 */
export function eksTokenSource(options: EksSignIn): () => Promise<string> {
  const now = options.now ?? Date.now;
  let cached: { token: string; renewAt: number } | undefined;
  return async () => {
    if (cached && now() < cached.renewAt) return cached.token;
    const at = now();
    const token = await eksToken({
      cluster: options.cluster,
      region: options.region,
      credentials: await options.credentials(),
      now: new Date(at),
    });
    cached = { token, renewAt: at + EKS_TOKEN_LIFETIME_MS - RENEW_BEFORE_MS };
    return token;
  };
}
