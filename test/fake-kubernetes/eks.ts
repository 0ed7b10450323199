import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * EKS's IAM authentication, as the fake API server plays it: a bearer token `k8s-aws-v1.<base64url URL>` is
 * accepted only when the URL is a presigned STS GetCallerIdentity request that aws-iam-authenticator's verifier
 * would take (https, the region's STS host, path /, only the parameters it allows, each once, the cluster's name
 * among the signed headers, X-Amz-Expires at most 900, X-Amz-Date less than 15 minutes old) and whose Signature
 * V4, computed here from the specification with the test's secret key and this cluster's name as the
 * `x-k8s-aws-id` header, is the one it carries: what STS checks when EKS calls it with the URL.
 */
export interface EksAuthentication {
  cluster: string;
  region: string;
  /** The IAM identity's keys, as STS knows them. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** What the access entry maps the identity to. */
  username: string;
  groups: string[];
  /** The server's clock (epoch ms): a test moves it to age tokens. */
  now?: () => number;
}

const PREFIX = "k8s-aws-v1.";
const TOKEN_LIFETIME_MS = 15 * 60_000;
const ALLOWED_PARAMETERS = new Set([
  "action",
  "version",
  "x-amz-algorithm",
  "x-amz-credential",
  "x-amz-date",
  "x-amz-expires",
  "x-amz-security-token",
  "x-amz-signature",
  "x-amz-signedheaders",
]);

/** Why the token is refused, or undefined when it is good. */
export function eksTokenProblem(token: string, auth: EksAuthentication): string | undefined {
  if (!token.startsWith(PREFIX)) return `token is missing expected "${PREFIX}" prefix`;
  const encoded = token.slice(PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return "token is not base64url without padding";
  let url: URL;
  try {
    url = new URL(Buffer.from(encoded, "base64url").toString("utf8"));
  } catch {
    return "token is not a URL";
  }
  if (url.protocol !== "https:") return `unexpected scheme ${url.protocol}`;
  const host = `sts.${auth.region}.amazonaws.com`;
  if (url.host !== host) return `unexpected hostname "${url.host}" in pre-signed URL`;
  if (url.pathname !== "/") return "unexpected path in pre-signed URL";
  const params = new Map<string, string>();
  for (const key of new Set(url.searchParams.keys())) {
    if (!ALLOWED_PARAMETERS.has(key.toLowerCase())) return `non-whitelisted query parameter "${key}"`;
    const values = url.searchParams.getAll(key);
    if (values.length !== 1) return "query parameter with multiple values not supported";
    params.set(key, values[0] as string);
  }
  if (params.get("Action") !== "GetCallerIdentity") return "unexpected action parameter in pre-signed URL";
  if (params.get("Version") !== "2011-06-15") return "unexpected version parameter";
  const signedHeaders = params.get("X-Amz-SignedHeaders") ?? "";
  if (!signedHeaders.split(";").includes("x-k8s-aws-id"))
    return "client did not sign the x-k8s-aws-id header in the pre-signed URL";
  const expires = Number(params.get("X-Amz-Expires"));
  if (!Number.isInteger(expires) || expires < 0 || expires > 900)
    return `invalid X-Amz-Expires parameter in pre-signed URL: ${params.get("X-Amz-Expires")}`;
  const date = params.get("X-Amz-Date") ?? "";
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
  if (!match) return "X-Amz-Date parameter must be present in pre-signed URL";
  const [, y, mo, d, h, mi, s] = match;
  const signedAt = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const now = (auth.now ?? Date.now)();
  if (now > signedAt + TOKEN_LIFETIME_MS)
    return `X-Amz-Date parameter is expired (15 minute expiration) ${date}`;
  // What STS checks: the credential, then the signature over the request with the header EKS adds.
  if (params.get("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256") return "unexpected signing algorithm";
  const day = date.slice(0, 8);
  const scope = `${day}/${auth.region}/sts/aws4_request`;
  if (params.get("X-Amz-Credential") !== `${auth.credentials.accessKeyId}/${scope}`)
    return "STS: the security token included in the request is invalid (unknown access key or scope)";
  if (params.get("X-Amz-Security-Token") !== auth.credentials.sessionToken)
    return "STS: the security token included in the request is invalid";
  const expected = signature(params, signedHeaders, host, auth, date, scope);
  const given = Buffer.from(params.get("X-Amz-Signature") ?? "");
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return "STS: the request signature we calculated does not match the signature you provided";
  return undefined;
}

/** Signature V4 of the presigned GET (query-string authentication), from the specification. */
function signature(
  params: Map<string, string>,
  signedHeaders: string,
  host: string,
  auth: EksAuthentication,
  date: string,
  scope: string,
): Buffer {
  const encode = (value: string) =>
    encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const canonicalQuery = [...params]
    .filter(([key]) => key !== "X-Amz-Signature")
    .map(([key, value]) => [encode(key), encode(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join("&");
  const headerValues: Record<string, string> = { host, "x-k8s-aws-id": auth.cluster };
  const names = signedHeaders.split(";");
  const canonicalHeaders = names.map((name) => `${name}:${headerValues[name] ?? ""}\n`).join("");
  const canonicalRequest = [
    "GET",
    "/",
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    createHash("sha256").update("").digest("hex"),
  ].join("\n");
  const toSign = [
    "AWS4-HMAC-SHA256",
    date,
    scope,
    createHash("sha256").update(canonicalRequest).digest("hex"),
  ].join("\n");
  let key: Buffer = createHmac("sha256", `AWS4${auth.credentials.secretAccessKey}`)
    .update(date.slice(0, 8))
    .digest();
  for (const part of [auth.region, "sts", "aws4_request"])
    key = createHmac("sha256", key).update(part).digest();
  return Buffer.from(createHmac("sha256", key).update(toSign).digest("hex"));
}
