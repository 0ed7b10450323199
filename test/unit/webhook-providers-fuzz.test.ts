import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { signedWebhookRequest, webhookProviders } from "../../core/adapters/git/index.js";
import { ValidationError } from "../../core/errors.js";
import type { Provider } from "../../core/model/index.js";
import type { WebhookRequest } from "../../core/ports.js";

const FIXTURES: Array<[Provider, string]> = [
  ["github", "github-push"],
  ["github", "github-tag-push"],
  ["github", "github-branch-delete"],
  ["gitlab", "gitlab-push"],
  ["gitlab", "gitlab-tag-push"],
  ["gitea", "gitea-push"],
  ["gitea", "gitea-tag-push"],
];
const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../fixtures/webhooks/${name}.json`, import.meta.url), "utf8"));

type Path = Array<string | number>;

/** Every path into a JSON value, the root included. */
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  const paths: Path[] = [prefix];
  if (typeof value !== "object" || value === null) return paths;
  const entries: Array<[string | number, unknown]> = Array.isArray(value)
    ? [...value.entries()]
    : Object.entries(value);
  for (const [key, item] of entries) paths.push(...pathsOf(item, [...prefix, key]));
  return paths;
}

/** `value` with the node at `path` replaced (or removed, when `replacement` is undefined). */
function mutate(value: unknown, path: Path, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [key, ...rest] = path as [string | number, ...Path];
  if (Array.isArray(value)) {
    const copy = [...value];
    if (rest.length === 0 && replacement === undefined) copy.splice(key as number, 1);
    else copy[key as number] = mutate(copy[key as number], rest, replacement);
    return copy;
  }
  const copy = { ...(value as Record<string, unknown>) };
  if (rest.length === 0 && replacement === undefined) delete copy[key as string];
  else copy[key as string] = mutate(copy[key as string], rest, replacement);
  return copy;
}

/** Parses, and fails the property when anything but a ValidationError escapes. */
function parsesOrRefuses(provider: Provider, req: WebhookRequest): void {
  try {
    const parsed = webhookProviders[provider].parse(req);
    expect(["trigger", "ignored"]).toContain(parsed.kind);
    expect(parsed.deliveryId).not.toBe("");
    if (parsed.kind === "trigger") expect(parsed.context.commit).toMatch(/^[0-9a-f]{40}$/);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    expect(error.issues.length).toBeGreaterThan(0);
  }
}

const request = (provider: Provider, payload: unknown) =>
  signedWebhookRequest(provider, payload, { secret: "fuzz", deliveryId: "d-1" });

// Values a careless or hostile sender might put anywhere: wrong types, prototype-ish keys, huge and odd text.
const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom("__proto__", "constructor", "", "0".repeat(40), "refs/heads/", "refs/tags/"),
  fc.string({ unit: "binary", maxLength: 64 }),
);

describe("parse never throws anything but ValidationError", () => {
  it.each(FIXTURES)("%s %s, one field replaced or removed", (provider, name) => {
    const payload = fixture(name);
    const paths = pathsOf(payload);
    fc.assert(
      fc.property(fc.nat(paths.length - 1), fc.option(oddValue, { nil: undefined }), (index, replacement) => {
        // Removing the root leaves no payload at all; send `null`, which JSON can carry.
        const mutated = mutate(payload, paths[index]!, replacement) ?? null;
        parsesOrRefuses(provider, request(provider, mutated));
      }),
      { numRuns: 300 },
    );
  });

  it.each(["github", "gitlab", "gitea"] as const)("%s: arbitrary bodies and header values", (provider) => {
    const headerNames = Object.keys(request(provider, {}).headers);
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: "binary" }), fc.json(), fc.constant("")),
        fc.dictionary(fc.constantFrom(...headerNames), fc.string({ unit: "binary", maxLength: 300 })),
        (body, headers) => {
          const req = request(provider, body);
          parsesOrRefuses(provider, { body, headers: { ...req.headers, ...headers } });
        },
      ),
      { numRuns: 300 },
    );
  });
});

/**
 * The key HMAC-SHA256 really uses for `secret`: a key longer than the 64-byte block is hashed, a shorter one is
 * padded with zero bytes, so "" and "\u0000" sign alike (RFC 2104): a signature checks against both.
 */
function hmacKey(secret: string): string {
  const bytes = Buffer.from(secret, "utf8");
  const key = bytes.length > 64 ? createHash("sha256").update(bytes).digest() : bytes;
  return Buffer.concat([key, Buffer.alloc(64 - key.length)]).toString("hex");
}

describe("verify never throws and never accepts a wrong secret", () => {
  it.each(["github", "gitlab", "gitea"] as const)("%s", async (provider) => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: "binary" }),
        fc.string({ unit: "binary" }),
        fc.option(fc.string({ unit: "binary" }), { nil: undefined }),
        async (body, secret, other) => {
          const configured = other ?? secret;
          const req = signedWebhookRequest(provider, body, { secret, deliveryId: "d" });
          // GitHub never sends an empty body, and octokit refuses to verify one.
          // GitLab compares its token as it is; GitHub and Gitea sign with HMAC, whose keys compare as HMAC uses them.
          const sameSecret =
            provider === "gitlab" ? configured === secret : hmacKey(configured) === hmacKey(secret);
          const expected = configured !== "" && sameSecret && (provider !== "github" || body !== "");
          await expect(webhookProviders[provider].verify(req, configured)).resolves.toBe(expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});
