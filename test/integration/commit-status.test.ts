import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createCommitStatusReporter } from "../../core/adapters/commit-status/index.js";
import { PermanentError, RetryableError } from "../../core/errors.js";
import type { CommitState } from "../../core/model/index.js";
import type { CommitStatus } from "../../core/ports.js";
import { caught } from "../receivers/fixtures.js";
import { RECEIVER_SECRETS, type Receivers, startReceivers } from "../receivers/index.js";

let receivers: Receivers;
beforeAll(async () => {
  receivers = await startReceivers();
});
afterAll(() => receivers.close());
beforeEach(() => receivers.reset());

const SHA = "9fceb02d0ae598e95dc970b74767f19372d61af8";
const status = (overrides: Partial<CommitStatus> = {}): CommitStatus => ({
  provider: "github",
  repository: "acme/web-app",
  commit: SHA,
  state: "pending",
  context: "hookflow/web-app",
  description: "Run 01jd7k2m9qf3x8 is running",
  targetUrl: "https://hookflow.example.com/api/runs/01jd7k2m9qf3x8",
  ...overrides,
});
const reporter = (tokens: { githubToken?: string; gitlabToken?: string } = RECEIVER_SECRETS) =>
  createCommitStatusReporter({
    ...tokens,
    githubApiUrl: receivers.github.origin,
    gitlabApiUrl: receivers.gitlab.origin,
  });

describe("GitHub statuses", () => {
  it("posts to /repos/{owner}/{repo}/statuses/{sha} with the documented headers and body", async () => {
    await reporter().report(status());
    expect(receivers.github.rejected).toEqual([]);
    const [request] = receivers.github.accepted;
    expect(request).toMatchObject({
      method: "POST",
      path: `/repos/acme/web-app/statuses/${SHA}`,
      headers: {
        authorization: `Bearer ${RECEIVER_SECRETS.githubToken}`,
        accept: "application/vnd.github+json",
        "x-github-api-version": "2022-11-28",
      },
    });
    expect(JSON.parse(request!.body)).toEqual({
      state: "pending",
      target_url: "https://hookflow.example.com/api/runs/01jd7k2m9qf3x8",
      description: "Run 01jd7k2m9qf3x8 is running",
      context: "hookflow/web-app",
    });
  });

  it.each<CommitState>(["pending", "success", "failure", "error"])(
    "passes state %s through",
    async (state) => {
      await reporter().report(status({ state }));
      expect(JSON.parse(receivers.github.accepted[0]!.body).state).toBe(state);
    },
  );

  it("cuts a description to 140 characters, which GitHub would refuse with 422", async () => {
    await reporter().report(status({ description: "é".repeat(300) }));
    const sent = JSON.parse(receivers.github.accepted[0]!.body).description as string;
    expect([...sent]).toHaveLength(140);
    expect(sent.endsWith("…")).toBe(true);
  });

  it("the receiver really refuses a long description", async () => {
    const response = await fetch(`${receivers.github.origin}/repos/acme/web-app/statuses/${SHA}`, {
      method: "POST",
      headers: { authorization: `Bearer ${RECEIVER_SECRETS.githubToken}`, "user-agent": "test" },
      body: JSON.stringify({ state: "success", description: "x".repeat(141) }),
    });
    expect(response.status).toBe(422);
  });

  it("a wrong token is permanent, and the token is not quoted", async () => {
    const error = await caught(reporter({ githubToken: "ghp_wrongwrongwrong" }).report(status()));
    expect(receivers.github.rejected.map((r) => r.reason)).toEqual(["bad credentials"]);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain("401");
    expect(error.message).not.toContain("ghp_wrongwrongwrong");
  });

  it("an unknown commit (422) is permanent", async () => {
    expect(await caught(reporter().report(status({ commit: "not-a-sha" })))).toBeInstanceOf(PermanentError);
  });

  it("the rate limit (403, x-ratelimit-remaining 0) is retryable until the reset", async () => {
    receivers.github.rateLimitNext(1);
    const error = await caught(reporter().report(status()));
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).retryAfterSeconds).toBeGreaterThan(0);
  });

  it("a 5xx is retryable", async () => {
    receivers.github.failNext(1, { status: 502, body: "bad gateway" });
    expect(await caught(reporter().report(status()))).toBeInstanceOf(RetryableError);
  });
});

describe("GitLab statuses", () => {
  const gitlab = (overrides: Partial<CommitStatus> = {}) =>
    status({ provider: "gitlab", repository: "acme/platform/web-app", ...overrides });

  it("posts to /api/v4/projects/{encoded path}/statuses/{sha} with PRIVATE-TOKEN", async () => {
    await reporter().report(gitlab());
    expect(receivers.gitlab.rejected).toEqual([]);
    const [request] = receivers.gitlab.accepted;
    expect(request!.rawPath).toBe(`/api/v4/projects/acme%2Fplatform%2Fweb-app/statuses/${SHA}`);
    expect(request!.headers["private-token"]).toBe(RECEIVER_SECRETS.gitlabToken);
    expect(request!.headers.authorization).toBeUndefined();
    expect(JSON.parse(request!.body)).toEqual({
      state: "pending",
      name: "hookflow/web-app",
      target_url: "https://hookflow.example.com/api/runs/01jd7k2m9qf3x8",
      description: "Run 01jd7k2m9qf3x8 is running",
    });
  });

  it.each<[CommitState, string]>([
    ["pending", "pending"],
    ["success", "success"],
    ["failure", "failed"],
    ["error", "canceled"],
  ])("maps %s to GitLab's %s", async (state, expected) => {
    await reporter().report(gitlab({ state }));
    expect(JSON.parse(receivers.gitlab.accepted[0]!.body).state).toBe(expected);
  });

  it("reporting the same pending state twice succeeds, though GitLab refuses the transition", async () => {
    await reporter().report(gitlab({ commit: "1".repeat(40) }));
    await reporter().report(gitlab({ commit: "1".repeat(40) }));
    expect(receivers.gitlab.accepted).toHaveLength(1);
    expect(receivers.gitlab.rejected.map((r) => r.reason)).toEqual(["same state again"]);
  });

  it("a refused transition to another state is still a failure", async () => {
    receivers.gitlab.failNext(1, {
      status: 400,
      body: { message: "Cannot transition status via :enqueue from :running (Reason(s): ...)" },
    });
    expect(await caught(reporter().report(gitlab()))).toBeInstanceOf(PermanentError);
  });

  it("a wrong token is permanent, and not quoted", async () => {
    const error = await caught(reporter({ gitlabToken: "glpat-wrongwrong" }).report(gitlab()));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).not.toContain("glpat-wrongwrong");
    expect(receivers.gitlab.rejected.map((r) => r.reason)).toEqual(["bad token"]);
  });

  it("429 and 5xx are retryable", async () => {
    receivers.gitlab.rateLimitNext(1);
    const error = await caught(reporter().report(gitlab()));
    expect((error as RetryableError).retryAfterSeconds).toBe(30);
    receivers.gitlab.failNext(1);
    expect(await caught(reporter().report(gitlab()))).toBeInstanceOf(RetryableError);
  });
});

describe("providers without a token", () => {
  it("are not enabled, and reporting to them sends nothing", async () => {
    const githubOnly = reporter({ githubToken: RECEIVER_SECRETS.githubToken });
    expect(githubOnly.enabledFor("github")).toBe(true);
    expect(githubOnly.enabledFor("gitlab")).toBe(false);
    expect(githubOnly.enabledFor("gitea")).toBe(false);
    await githubOnly.report(status({ provider: "gitlab" }));
    await githubOnly.report(status({ provider: "gitea" }));
    expect(receivers.gitlab.accepted.length + receivers.gitlab.rejected.length).toBe(0);
  });
});
