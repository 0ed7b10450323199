import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  giteaWebhooks,
  githubWebhooks,
  gitlabWebhooks,
  signedWebhookRequest,
  signGitea,
  signGithub,
  webhookProviders,
} from "../../core/adapters/git/index.js";
import { triggerMatches } from "../../core/engine/triggers.js";
import { ValidationError } from "../../core/errors.js";
import { type Provider, Trigger, type TriggerContext } from "../../core/model/index.js";
import type { WebhookRequest } from "../../core/ports.js";

const SECRET = "s3cret-for-tests";
const DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
const ZERO = "0".repeat(40);

/** A fixture's text, byte for byte: signatures cover the raw body. */
const fixtureText = (name: string) =>
  readFileSync(new URL(`../fixtures/webhooks/${name}.json`, import.meta.url), "utf8");
const fixture = (name: string): Record<string, unknown> => JSON.parse(fixtureText(name));

function request(provider: Provider, payload: unknown, event?: string): WebhookRequest {
  return signedWebhookRequest(provider, payload, { secret: SECRET, deliveryId: DELIVERY, event });
}

function parse(provider: Provider, payload: unknown, event?: string) {
  return webhookProviders[provider].parse(request(provider, payload, event));
}

function triggerOf(provider: Provider, payload: unknown, event?: string): TriggerContext {
  const parsed = parse(provider, payload, event);
  if (parsed.kind !== "trigger") throw new Error(`expected a trigger, got ignored: ${parsed.reason}`);
  return parsed.context;
}

function validationError(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error("expected a ValidationError");
}

const withHeaders = (req: WebhookRequest, headers: Record<string, string>): WebhookRequest => ({
  ...req,
  headers: { ...req.headers, ...headers },
});
const without = (req: WebhookRequest, name: string): WebhookRequest => {
  const { [name]: _, ...headers } = req.headers;
  return { ...req, headers };
};

describe("GitHub signature", () => {
  // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
  const vector = {
    secret: "It's a Secret to Everybody",
    body: "Hello, World!",
    signature: "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
  };

  it("signs GitHub's documented test vector", () => {
    expect(signGithub(vector.body, vector.secret)).toBe(vector.signature);
  });

  it("verifies GitHub's documented test vector, and nothing else", async () => {
    const req = { headers: { "x-hub-signature-256": vector.signature }, body: vector.body };
    await expect(githubWebhooks.verify(req, vector.secret)).resolves.toBe(true);
    await expect(githubWebhooks.verify({ ...req, body: "Hello, World?" }, vector.secret)).resolves.toBe(
      false,
    );
    await expect(githubWebhooks.verify(req, "It's a Secret to Everybody!")).resolves.toBe(false);
  });

  it.each([
    ["without the sha256= prefix", vector.signature.slice("sha256=".length)],
    ["in upper case", vector.signature.toUpperCase()],
    ["cut short", vector.signature.slice(0, 20)],
    ["as a sha1 signature", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"],
  ])("refuses a signature %s", async (_, signature) => {
    const req = { headers: { "x-hub-signature-256": signature }, body: vector.body };
    await expect(githubWebhooks.verify(req, vector.secret)).resolves.toBe(false);
  });
});

describe("verification, every provider", () => {
  const pushes: Record<Provider, string> = {
    github: "github-push",
    gitlab: "gitlab-push",
    gitea: "gitea-push",
  };
  const credentialHeader: Record<Provider, string> = {
    github: "x-hub-signature-256",
    gitlab: "x-gitlab-token",
    gitea: "x-gitea-signature",
  };
  const providers = Object.keys(pushes) as Provider[];

  it.each(providers)("%s: accepts a delivery signed with the secret", async (provider) => {
    const req = request(provider, fixtureText(pushes[provider]));
    await expect(webhookProviders[provider].verify(req, SECRET)).resolves.toBe(true);
  });

  it.each(providers)("%s: refuses another secret", async (provider) => {
    const req = request(provider, fixtureText(pushes[provider]));
    await expect(webhookProviders[provider].verify(req, `${SECRET}x`)).resolves.toBe(false);
    await expect(webhookProviders[provider].verify(req, "other")).resolves.toBe(false);
  });

  it.each(["github", "gitea"] as const)("%s: refuses a body changed after signing", async (provider) => {
    const req = request(provider, fixtureText(pushes[provider]));
    const changed = { ...req, body: req.body.replace("refs/heads/", "refs/tags/") };
    expect(changed.body).not.toBe(req.body);
    await expect(webhookProviders[provider].verify(changed, SECRET)).resolves.toBe(false);
    // One byte of whitespace is enough: the signature covers the raw body, not its meaning.
    await expect(webhookProviders[provider].verify({ ...req, body: `${req.body} ` }, SECRET)).resolves.toBe(
      false,
    );
  });

  it.each(providers)("%s: refuses a delivery without a signature or token", async (provider) => {
    const req = without(request(provider, fixtureText(pushes[provider])), credentialHeader[provider]);
    await expect(webhookProviders[provider].verify(req, SECRET)).resolves.toBe(false);
    const empty = withHeaders(req, { [credentialHeader[provider]]: "" });
    await expect(webhookProviders[provider].verify(empty, SECRET)).resolves.toBe(false);
  });

  it.each(providers)("%s: an unset (empty) secret verifies nothing", async (provider) => {
    const signedWithEmpty = signedWebhookRequest(provider, fixtureText(pushes[provider]), {
      secret: "",
      deliveryId: DELIVERY,
    });
    await expect(webhookProviders[provider].verify(signedWithEmpty, "")).resolves.toBe(false);
  });

  it.each(providers)("%s: garbage credentials of any length are refused, never thrown", async (provider) => {
    const req = request(provider, fixtureText(pushes[provider]));
    for (const value of [
      "x",
      "sha256=",
      "sha256=zz",
      "é".repeat(300),
      SECRET.slice(0, -1),
      `${SECRET}${SECRET}`,
    ]) {
      const bad = withHeaders(req, { [credentialHeader[provider]]: value });
      await expect(webhookProviders[provider].verify(bad, SECRET)).resolves.toBe(false);
    }
  });

  it("gitlab: a token of a different length is refused without throwing", async () => {
    const req = request("gitlab", fixtureText("gitlab-push"));
    for (const token of ["short", `${SECRET}-and-then-some-more-characters`]) {
      await expect(
        gitlabWebhooks.verify(withHeaders(req, { "x-gitlab-token": token }), SECRET),
      ).resolves.toBe(false);
    }
  });

  it("gitea: the header is the bare hex HMAC of the body", async () => {
    const body = fixtureText("gitea-push");
    expect(signGitea(body, SECRET)).toMatch(/^[0-9a-f]{64}$/);
    const req = { headers: { "x-gitea-signature": signGitea(body, SECRET) }, body };
    await expect(giteaWebhooks.verify(req, SECRET)).resolves.toBe(true);
    const prefixed = { ...req, headers: { "x-gitea-signature": `sha256=${signGitea(body, SECRET)}` } };
    await expect(giteaWebhooks.verify(prefixed, SECRET)).resolves.toBe(false);
  });
});

describe("normalising pushes", () => {
  it("GitHub branch push: every field, changed files across all commits, once each", () => {
    expect(triggerOf("github", fixtureText("github-push"))).toStrictEqual({
      provider: "github",
      event: "push",
      repository: "acme/web-app",
      cloneUrl: "https://github.com/acme/web-app.git",
      ref: "refs/heads/main",
      branch: "main",
      commit: "6a831e64d1445ede4987d1c1092c4480c215fc9e",
      message: "Run CI on Node 22\n\nAlso checks the new health test.",
      author: "Bob Martins",
      pushedBy: ["alice-chen", "bmartins"],
      deliveryId: DELIVERY,
      changedFiles: [
        "src/health.ts",
        "test/health.test.ts",
        "src/server.ts",
        "README.md",
        "src/legacy-config.ts",
        ".github/workflows/ci.yml",
        "package.json",
      ],
    });
  });

  it("GitHub tag push: the tagged commit, not the annotated tag object in `after`", () => {
    const payload = fixture("github-tag-push");
    expect(payload.after).not.toBe("6a831e64d1445ede4987d1c1092c4480c215fc9e");
    expect(triggerOf("github", fixtureText("github-tag-push"))).toStrictEqual({
      provider: "github",
      event: "tag",
      repository: "acme/web-app",
      cloneUrl: "https://github.com/acme/web-app.git",
      ref: "refs/tags/v1.4.0",
      tag: "v1.4.0",
      commit: "6a831e64d1445ede4987d1c1092c4480c215fc9e",
      message: "Run CI on Node 22\n\nAlso checks the new health test.",
      author: "Bob Martins",
      pushedBy: ["alice-chen", "bmartins"],
      deliveryId: DELIVERY,
    });
  });

  it("GitHub tag push without a head commit: `after`, an empty message, the pusher", () => {
    const payload = {
      ...fixture("github-tag-push"),
      head_commit: null,
      after: "c03f115a101962c8f59b565baeee41af6fad1080",
    };
    expect(triggerOf("github", payload)).toMatchObject({
      event: "tag",
      tag: "v1.4.0",
      commit: "c03f115a101962c8f59b565baeee41af6fad1080",
      message: "",
      author: "alice-chen",
    });
  });

  it("GitLab push: path_with_namespace, checkout_sha, the head commit found by id", () => {
    expect(triggerOf("gitlab", fixtureText("gitlab-push"))).toStrictEqual({
      provider: "gitlab",
      event: "push",
      repository: "acme/platform/web-app",
      cloneUrl: "https://gitlab.acme.example/acme/platform/web-app.git",
      ref: "refs/heads/release/2.x",
      branch: "release/2.x",
      commit: "547c00b0ee530a8701e18f7a6fb291c4cab5fb18",
      message: "Fix rounding in cart totals\n\nTotals were rounded per line instead of once.\n",
      author: "Bogdan Ivanov",
      pushedBy: ["bivanov"],
      deliveryId: DELIVERY,
      changedFiles: ["locales/uk.json", "src/checkout/page.tsx", "src/cart/totals.ts", "src/cart/round.ts"],
    });
  });

  it("GitLab tag push: checkout_sha (the tagged commit), the annotated tag's message, the pushing user", () => {
    expect(triggerOf("gitlab", fixtureText("gitlab-tag-push"))).toStrictEqual({
      provider: "gitlab",
      event: "tag",
      repository: "acme/platform/web-app",
      cloneUrl: "https://gitlab.acme.example/acme/platform/web-app.git",
      ref: "refs/tags/v2.0.0",
      tag: "v2.0.0",
      commit: "547c00b0ee530a8701e18f7a6fb291c4cab5fb18",
      message: "Release 2.0.0",
      author: "bivanov",
      pushedBy: ["bivanov"],
      deliveryId: DELIVERY,
    });
  });

  it("GitLab: the clone URL falls back to repository.git_http_url", () => {
    const payload = fixture("gitlab-push");
    const project = { ...(payload.project as object), git_http_url: undefined };
    const repository = { git_http_url: "https://mirror.acme.example/web-app.git" };
    expect(triggerOf("gitlab", { ...payload, project, repository }).cloneUrl).toBe(
      "https://mirror.acme.example/web-app.git",
    );
  });

  it("Gitea push: head commit from head_commit, commits listed newest first", () => {
    expect(triggerOf("gitea", fixtureText("gitea-push"))).toStrictEqual({
      provider: "gitea",
      event: "push",
      repository: "infra/deploy-tools",
      cloneUrl: "https://git.acme.example/infra/deploy-tools.git",
      ref: "refs/heads/develop",
      branch: "develop",
      commit: "3a3b08f1751e2304d3f04c8d6e8a64cd3bd0471e",
      message: "Deploy the worker with two replicas\n",
      author: "Kwame Mensah",
      pushedBy: ["kwame"],
      deliveryId: DELIVERY,
      changedFiles: ["k8s/worker/hpa.yaml", "k8s/worker/deployment.yaml", "Makefile", "k8s/cron.yaml"],
    });
  });

  it("Gitea tag push (a push event with a refs/tags/ ref)", () => {
    expect(triggerOf("gitea", fixtureText("gitea-tag-push"))).toStrictEqual({
      provider: "gitea",
      event: "tag",
      repository: "infra/deploy-tools",
      cloneUrl: "https://git.acme.example/infra/deploy-tools.git",
      ref: "refs/tags/v0.9.1",
      tag: "v0.9.1",
      commit: "3a3b08f1751e2304d3f04c8d6e8a64cd3bd0471e",
      message: "Deploy the worker with two replicas\n",
      author: "Kwame Mensah",
      pushedBy: ["kwame"],
      deliveryId: DELIVERY,
    });
  });

  it("Gitea: null file lists (Go's empty slices) count as empty", () => {
    const payload = fixture("gitea-push");
    const commits = (payload.commits as Array<Record<string, unknown>>).map((c) => ({ ...c, removed: null }));
    expect(triggerOf("gitea", { ...payload, commits }).changedFiles).toEqual([
      "k8s/worker/hpa.yaml",
      "k8s/worker/deployment.yaml",
      "Makefile",
    ]);
  });

  it.each([
    ["gitlab", "gitlab-push", { total_commits_count: 25 }],
    ["gitea", "gitea-push", { total_commits: 40 }],
  ] as const)(
    "%s: a commit list cut short leaves changedFiles unknown, not partial",
    (provider, name, extra) => {
      const context = triggerOf(provider, { ...fixture(name), ...extra });
      expect(context.changedFiles).toBeUndefined();
      expect(context.commit).toMatch(/^[0-9a-f]{40}$/);
    },
  );

  it("a push that lists no commits (a new branch) leaves changedFiles unknown", () => {
    const payload = { ...fixture("github-push"), created: true, before: ZERO, commits: [] };
    const context = triggerOf("github", payload);
    expect(context.changedFiles).toBeUndefined();
    expect(context.commit).toBe("6a831e64d1445ede4987d1c1092c4480c215fc9e");
  });

  it("an empty author name falls back to the username, then the pusher", () => {
    const payload = fixture("github-push");
    const head = payload.head_commit as Record<string, unknown>;
    const anonymous = { ...head, author: { name: "", email: "x@y", username: "bmartins" } };
    expect(triggerOf("github", { ...payload, head_commit: anonymous }).author).toBe("bmartins");
    const nameless = { ...head, author: { name: "", email: "x@y" } };
    expect(triggerOf("github", { ...payload, head_commit: nameless }).author).toBe("alice-chen");
  });

  it("an absurdly long author name is cut to display size", () => {
    const payload = fixture("github-push");
    const head = { ...(payload.head_commit as object), author: { name: "A".repeat(100_000), email: "a@b" } };
    const author = triggerOf("github", { ...payload, head_commit: head }).author;
    expect(Buffer.byteLength(author)).toBeLessThanOrEqual(256);
    expect(author.startsWith("AAAA")).toBe(true);
  });
});

describe("deliveries that start nothing", () => {
  it("GitHub branch deletion (deleted: true, after all zeros)", () => {
    expect(parse("github", fixtureText("github-branch-delete"))).toEqual({
      kind: "ignored",
      deliveryId: DELIVERY,
      reason: "branch deleted",
    });
  });

  it("GitHub `deleted: true` alone is enough", () => {
    const payload = { ...fixture("github-push"), deleted: true };
    expect(parse("github", payload)).toMatchObject({ kind: "ignored", reason: "branch deleted" });
  });

  it("GitHub tag deletion", () => {
    const payload = { ...fixture("github-branch-delete"), ref: "refs/tags/v0.1.0" };
    expect(parse("github", payload)).toMatchObject({ kind: "ignored", reason: "tag deleted" });
  });

  it("GitLab branch deletion (after all zeros, checkout_sha null)", () => {
    const payload = {
      ...fixture("gitlab-push"),
      after: ZERO,
      checkout_sha: null,
      commits: [],
      total_commits_count: 0,
    };
    expect(parse("gitlab", payload)).toEqual({
      kind: "ignored",
      deliveryId: DELIVERY,
      reason: "branch deleted",
    });
  });

  it("Gitea tag deletion", () => {
    const payload = { ...fixture("gitea-tag-push"), before: "8f48b311834bf02ff9b34f1ceb09947df8de0edd" };
    Object.assign(payload, { after: ZERO, head_commit: null, commits: [] });
    expect(parse("gitea", payload)).toEqual({ kind: "ignored", deliveryId: DELIVERY, reason: "tag deleted" });
  });

  it("GitHub ping", () => {
    expect(parse("github", fixtureText("github-ping"), "ping")).toEqual({
      kind: "ignored",
      deliveryId: DELIVERY,
      reason: "ping",
    });
  });

  it.each([
    [
      "github",
      { action: "opened", issue: { number: 1 } },
      "issues",
      'event "issues" is not a push or a pull request',
    ],
    [
      "github",
      { ref: "main", ref_type: "branch" },
      "create",
      'event "create" is not a push or a pull request',
    ],
    ["gitlab", { object_kind: "note" }, "Note Hook", 'event "note" is not a push or a pull request'],
    ["gitlab", { object_kind: "pipeline" }, undefined, 'event "pipeline" is not a push or a pull request'],
    [
      "gitea",
      { ref: "v0.9.1", ref_type: "tag", sha: "3a3b08f1751e2304d3f04c8d6e8a64cd3bd0471e" },
      "create",
      'event "create" is not a push or a pull request',
    ],
    ["gitea", { action: "published" }, "release", 'event "release" is not a push or a pull request'],
  ] as const)("%s: other events (%s)", (provider, payload, event, reason) => {
    expect(parse(provider, payload, event)).toEqual({ kind: "ignored", deliveryId: DELIVERY, reason });
  });

  it("a ref that is neither a branch nor a tag", () => {
    const payload = { ...fixture("github-push"), ref: "refs/notes/commits" };
    expect(parse("github", payload)).toMatchObject({
      kind: "ignored",
      reason: "ref refs/notes/commits is neither a branch nor a tag",
    });
  });
});

describe("GitLab events", () => {
  it("reads a push from object_kind when the header is a System Hook", () => {
    expect(triggerOf("gitlab", fixtureText("gitlab-push"), "System Hook").branch).toBe("release/2.x");
    expect(triggerOf("gitlab", fixtureText("gitlab-tag-push"), "System Hook").tag).toBe("v2.0.0");
  });

  it("reads a push from the header when object_kind is absent", () => {
    const { object_kind: _, ...payload } = fixture("gitlab-push");
    expect(triggerOf("gitlab", payload, "Push Hook").event).toBe("push");
  });

  it("takes the delivery id from Idempotency-Key, else X-Gitlab-Event-UUID", () => {
    const req = request("gitlab", fixtureText("gitlab-push"));
    const both = withHeaders(req, { "idempotency-key": "key-1", "x-gitlab-event-uuid": "uuid-1" });
    expect(gitlabWebhooks.parse(both).deliveryId).toBe("key-1");
    expect(gitlabWebhooks.parse(without(both, "idempotency-key")).deliveryId).toBe("uuid-1");
  });
});

describe("malformed deliveries", () => {
  it.each(["github", "gitlab", "gitea"] as const)("%s: a body that is not JSON", (provider) => {
    const error = validationError(() => parse(provider, '{"ref": "refs/heads/main",'));
    expect(error.message).toBe("body is not valid JSON");
    expect(error.issues).toEqual([{ path: "", message: "not valid JSON" }]);
  });

  it("a form-encoded body says which content type to choose", () => {
    const body = `payload=${encodeURIComponent(fixtureText("github-push"))}`;
    const error = validationError(() => parse("github", body));
    expect(error.message).toBe("body is not valid JSON (set the webhook's content type to application/json)");
  });

  it.each([
    ["github", "x-github-delivery", "missing header x-github-delivery", "required"],
    [
      "gitea",
      "x-gitea-delivery",
      "missing header x-gitea-delivery or x-gogs-delivery",
      "required (or x-gogs-delivery)",
    ],
  ] as const)("%s: a missing delivery id header is named", (provider, name, message, issue) => {
    const req = without(request(provider, fixtureText(`${provider}-push`)), name);
    const error = validationError(() => webhookProviders[provider].parse(req));
    expect(error.message).toBe(message);
    expect(error.issues).toEqual([{ path: `headers.${name}`, message: issue }]);
  });

  it.each([
    ["github", "x-github-delivery"],
    ["gitea", "x-gitea-delivery"],
    ["gitlab", "idempotency-key"],
  ] as const)("%s: an empty delivery id header counts as missing", (provider, name) => {
    let req = withHeaders(request(provider, fixtureText(`${provider}-push`)), { [name]: "" });
    if (provider === "gitlab") req = without(req, "x-gitlab-event-uuid");
    expect(validationError(() => webhookProviders[provider].parse(req)).issues[0]?.path).toBe(
      `headers.${name}`,
    );
  });

  it("gitlab: a missing delivery id names both headers it reads", () => {
    const req = without(
      without(request("gitlab", fixtureText("gitlab-push")), "idempotency-key"),
      "x-gitlab-event-uuid",
    );
    const error = validationError(() => gitlabWebhooks.parse(req));
    expect(error.message).toBe("missing header idempotency-key or x-gitlab-event-uuid");
    expect(error.issues).toEqual([
      { path: "headers.idempotency-key", message: "required (or x-gitlab-event-uuid)" },
    ]);
  });

  it.each([
    ["github", "x-github-event", "required"],
    ["gitea", "x-gitea-event", "required (or x-gogs-event)"],
  ] as const)("%s: a missing event header is named", (provider, name, issue) => {
    const req = without(request(provider, fixtureText(`${provider}-push`)), name);
    expect(validationError(() => webhookProviders[provider].parse(req)).issues).toEqual([
      { path: `headers.${name}`, message: issue },
    ]);
  });

  it("a delivery id far longer than a UUID is refused", () => {
    const req = withHeaders(request("github", fixtureText("github-push")), {
      "x-github-delivery": "d".repeat(300),
    });
    expect(validationError(() => githubWebhooks.parse(req)).issues[0]?.path).toBe(
      "headers.x-github-delivery",
    );
  });

  it("GitHub: every missing or mistyped field, with its path", () => {
    const payload = fixture("github-push");
    const { full_name: _, ...repository } = payload.repository as Record<string, unknown>;
    const commits = payload.commits as Array<Record<string, unknown>>;
    const broken = {
      ...payload,
      repository,
      after: 42,
      pusher: null,
      commits: [commits[0], { ...commits[1], added: "README.md" }],
    };
    const error = validationError(() => parse("github", broken));
    expect(error.message).toBe("invalid GitHub push payload");
    const paths = error.issues.map((i) => i.path).sort();
    expect(paths).toEqual(["after", "commits[1].added", "pusher", "repository.full_name"]);
    expect(error.issues.find((i) => i.path === "repository.full_name")?.message).toMatch(/expected string/);
  });

  it.each([
    ["github", "github-push", "after"],
    ["gitea", "gitea-push", "after"],
    ["gitlab", "gitlab-push", "checkout_sha"],
  ] as const)("%s: a commit sha that is not 40 hex digits", (provider, name, field) => {
    for (const sha of ["6a831e64", "6A831E64D1445EDE4987D1C1092C4480C215FC9E", `${"g".repeat(40)}`]) {
      const error = validationError(() => parse(provider, { ...fixture(name), [field]: sha }));
      expect(error.issues).toEqual([
        { path: field, message: "expected a 40-character lowercase hex commit sha" },
      ]);
    }
  });

  it("GitLab: missing project fields and a missing clone URL", () => {
    const payload = fixture("gitlab-push");
    const { path_with_namespace: _, ...project } = payload.project as Record<string, unknown>;
    expect(validationError(() => parse("gitlab", { ...payload, project })).issues).toEqual([
      { path: "project.path_with_namespace", message: expect.stringMatching(/expected string/) },
    ]);
    const noUrls = { ...payload, project: { path_with_namespace: "a/b" }, repository: { name: "b" } };
    expect(validationError(() => parse("gitlab", noUrls)).issues).toEqual([
      { path: "project.git_http_url", message: "expected string (or repository.git_http_url)" },
    ]);
  });

  it("Gitea: a missing pusher and repository", () => {
    const { pusher: _, repository: __, ...payload } = fixture("gitea-push");
    const paths = validationError(() => parse("gitea", payload)).issues.map((i) => i.path);
    expect(paths.sort()).toEqual(["pusher", "repository"]);
  });

  it.each(["github", "gitlab", "gitea"] as const)("%s: JSON that is not an object", (provider) => {
    for (const body of ["null", "[]", '"push"', "42"]) {
      const error = validationError(() =>
        parse(provider, body, provider === "gitlab" ? "Push Hook" : "push"),
      );
      expect(error.issues.length).toBeGreaterThan(0);
    }
  });
});

describe("the registry", () => {
  it("has one provider per name, each naming its secret variable", () => {
    expect(Object.keys(webhookProviders).sort()).toEqual(["gitea", "github", "gitlab"]);
    expect(
      Object.fromEntries(
        Object.entries(webhookProviders).map(([name, p]) => [name, [p.provider, p.secretVariable]]),
      ),
    ).toEqual({
      github: ["github", "HOOKFLOW_GITHUB_SECRET"],
      gitlab: ["gitlab", "HOOKFLOW_GITLAB_TOKEN"],
      gitea: ["gitea", "HOOKFLOW_GITEA_SECRET"],
    });
  });
});

describe("real payloads from the hosts' own documentation and test buttons (sources: test/fixtures/webhooks/SOURCES.md)", () => {
  it("GitLab's documented Tag Push example, which has no user_username: the pusher's name", () => {
    expect(triggerOf("gitlab", fixtureText("gitlab-docs-tag-push"), "Tag Push Hook")).toStrictEqual({
      provider: "gitlab",
      event: "tag",
      repository: "jsmith/example",
      cloneUrl: "http://example.com/jsmith/example.git",
      ref: "refs/tags/v1.0.0",
      tag: "v1.0.0",
      commit: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
      message: "",
      author: "John Smith",
      pushedBy: ["John Smith"],
      deliveryId: DELIVERY,
    });
  });

  it("GitLab's Test button sample: no user_username, no file lists (files unknown), head commit last", () => {
    const context = triggerOf("gitlab", fixtureText("gitlab-test-button-push"), "Push Hook");
    expect(context).toMatchObject({
      event: "push",
      branch: "master",
      commit: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      message: "Add simple search to projects in public area\n\ncommit message body",
      author: "Test User",
    });
    expect(context.changedFiles).toBeUndefined();
  });

  it("Gitea's documented push example, without head_commit: message and author from its commit", () => {
    const context = triggerOf("gitea", fixtureText("gitea-docs-push"));
    expect(context).toMatchObject({
      repository: "gitea/webhooks",
      branch: "develop",
      commit: "bffeb74224043ba2feb48d137756c8a9331c449a",
      message: "Webhooks Yay!",
      author: "Gitea",
    });
    expect(context.changedFiles).toBeUndefined();
  });

  it("Gogs's documented push example, with X-Gogs-* headers and no head_commit", async () => {
    const body = fixtureText("gogs-docs-push");
    const req: WebhookRequest = {
      headers: {
        "content-type": "application/json",
        "x-gogs-delivery": DELIVERY,
        "x-gogs-event": "push",
        "x-gogs-signature": signGitea(body, SECRET),
      },
      body,
    };
    expect(await giteaWebhooks.verify(req, SECRET)).toBe(true);
    const parsed = giteaWebhooks.parse(req);
    if (parsed.kind !== "trigger") throw new Error(`ignored: ${parsed.reason}`);
    expect(parsed.context).toMatchObject({
      repository: "unknwon/webhooks",
      commit: "bffeb74224043ba2feb48d137756c8a9331c449a",
      message: "!@#0^%>>>><<<<>>>>\n",
      author: "Unknwon",
    });
  });

  it("Gitea or Gogs without head_commit: the head is the listed commit `after` names, not the pusher", () => {
    const payload = fixture("gitea-push");
    const { head_commit: _, ...withoutHead } = payload;
    const context = triggerOf("gitea", withoutHead);
    expect(context.message).toBe("Deploy the worker with two replicas\n");
    expect(context.author).toBe("Kwame Mensah");
  });

  it("GitHub: a commit listing no files (too large for GitHub to list) leaves the files unknown, so `paths` runs", () => {
    const payload = fixture("github-push");
    const commits = (payload.commits as Array<Record<string, unknown>>).map((c, i) =>
      i === 0 ? { ...c, added: [], modified: [], removed: [] } : c,
    );
    const context = triggerOf("github", { ...payload, commits });
    expect(context.changedFiles).toBeUndefined();
    const trigger = Trigger.parse({
      provider: "github",
      repository: context.repository,
      paths: ["nothing/**"],
    });
    expect(triggerMatches(trigger, context)).toBe(true);
  });
});
