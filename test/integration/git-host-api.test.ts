import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGitHostApis } from "../../core/adapters/git-api/index.js";
import { PermanentError, RetryableError } from "../../core/errors.js";
import type { Provider } from "../../core/model/index.js";
import type { GitHostApi } from "../../core/ports.js";
import { FakeGitHosts } from "../fake-git-hosts/index.js";

const hosts = new FakeGitHosts();
let apis: Record<Provider, GitHostApi>;

beforeAll(async () => {
  await hosts.start();
  const s = hosts.settings();
  apis = createGitHostApis({
    githubApiUrl: s.HOOKFLOW_GITHUB_API_URL as string,
    githubToken: hosts.tokens.github,
    gitlabUrl: s.HOOKFLOW_GITLAB_URL as string,
    gitlabToken: hosts.tokens.gitlab,
    giteaUrl: s.HOOKFLOW_GITEA_URL as string,
    giteaToken: hosts.tokens.gitea,
    bounds: { timeoutMs: 5_000, maxBytes: 64 * 1024 },
  }) as Record<Provider, GitHostApi>;
});
afterAll(() => hosts.stop());

const REPOS: Record<Provider, string> = {
  github: "acme/web-app",
  gitlab: "acme/platform/web-app",
  gitea: "acme/web-app",
};
const providers = Object.keys(REPOS) as Provider[];

describe.each(providers)("the %s API", (provider) => {
  const repository = REPOS[provider];

  it("resolves a branch's head, slashes in the branch name included", async () => {
    const sha = hosts.push(provider, repository, "release/1.0", {
      message: "Ship it\n\nbody",
      author: "Ada",
      files: {},
    });
    expect(await apis[provider].branchHead(repository, "release/1.0")).toEqual({
      commit: sha,
      message: "Ship it\n\nbody",
      author: "Ada",
    });
    expect(await apis[provider].branchHead(repository, "no-such-branch")).toBeUndefined();
    expect(hosts.rejected).toEqual([]);
  });

  it("reads a file and lists a directory at a commit", async () => {
    const sha = hosts.push(provider, repository, "main", {
      message: "pipelines",
      author: "Ada",
      files: { ".hookflow.yaml": "name: ci\n", ".hookflow/deploy.yaml": "name: deploy\n", "src/a.ts": "x" },
    });
    const api = apis[provider];
    expect(await api.readFile(repository, sha, ".hookflow.yaml")).toBe("name: ci\n");
    expect(await api.readFile(repository, sha, ".hookflow/deploy.yaml")).toBe("name: deploy\n");
    expect(await api.readFile(repository, sha, "missing.yaml")).toBeUndefined();
    expect(await api.listDirectory(repository, sha, ".hookflow")).toEqual([
      { name: "deploy.yaml", path: ".hookflow/deploy.yaml", kind: "file" },
    ]);
    expect(await api.listDirectory(repository, sha, "nothing-here")).toBeUndefined();
    expect(hosts.rejected).toEqual([]);
  });

  it("lists a pull request's changed files page by page, a rename's old path too", async () => {
    const files = Array.from({ length: 230 }, (_, i) => ({ filename: `src/f${i}.ts` }));
    files[7] = { filename: "docs/new.md", previous: "docs/old.md" } as (typeof files)[number];
    hosts.pullRequest(provider, repository, 41, files);
    const before = hosts.count(provider);
    const listed = await apis[provider].pullRequestFiles(repository, 41, 1000);
    expect(listed).toHaveLength(231);
    expect(listed?.slice(7, 9)).toEqual(["docs/new.md", "docs/old.md"]);
    // 100 a page on GitHub and GitLab (3 reads); Gitea serves 50 (5 reads, the last one short).
    expect(hosts.count(provider) - before).toBe(provider === "gitea" ? 5 : 3);
    expect(await apis[provider].pullRequestFiles(repository, 404, 1000)).toBeUndefined();
    expect(hosts.rejected).toEqual([]);
  });

  it("stops reading past the file limit and says the list is unknown", async () => {
    hosts.pullRequest(
      provider,
      repository,
      42,
      Array.from({ length: 5000 }, (_, i) => ({ filename: `f${i}` })),
    );
    const before = hosts.count(provider);
    expect(await apis[provider].pullRequestFiles(repository, 42, 1000)).toBeUndefined();
    // Never more than limit / page + 2 reads, however many files the host holds.
    expect(hosts.count(provider) - before).toBe(provider === "gitea" ? 21 : 11);
  });

  it("reads a commit's message by its sha", async () => {
    const sha = "5c2d9f0e4b1a3c6d8e7f9a0b1c2d3e4f5a6b7c8d";
    hosts.commit(provider, repository, sha, { message: "Tidy up [skip ci]\n", author: "Ada", files: {} });
    expect(await apis[provider].commitMessage(repository, sha)).toBe("Tidy up [skip ci]\n");
    expect(await apis[provider].commitMessage(repository, "f".repeat(40))).toBeUndefined();
    expect(hosts.rejected).toEqual([]);
  });

  it("says a refused token's setting, and retries what may pass later", async () => {
    hosts.fail(provider, 401);
    const refused = await apis[provider].branchHead(repository, "main").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PermanentError);
    expect((refused as Error).message).toMatch(
      { github: /HOOKFLOW_GITHUB_TOKEN/, gitlab: /HOOKFLOW_GITLAB_API_TOKEN/, gitea: /HOOKFLOW_GITEA_TOKEN/ }[
        provider
      ],
    );
    expect((refused as Error).message).not.toContain(hosts.tokens[provider]);
    hosts.fail(provider, 503);
    await expect(apis[provider].branchHead(repository, "main")).rejects.toBeInstanceOf(RetryableError);
  });

  it("refuses an answer over the byte bound instead of reading it", async () => {
    const sha = hosts.push(provider, repository, "big", {
      message: "big",
      author: "Ada",
      files: { "huge.yaml": "x".repeat(100 * 1024) },
    });
    await expect(apis[provider].readFile(repository, sha, "huge.yaml")).rejects.toThrow(/at most|over/);
  });
});

describe("the fake itself", () => {
  it("refuses a route the host does not have, so a wrong path fails a test", async () => {
    const before = hosts.rejected.length;
    const answers = await Promise.all([
      fetch(`${hosts.url}/github/repos/acme/web-app/branch/main`, {
        headers: { authorization: `Bearer ${hosts.tokens.github}`, "user-agent": "t" },
      }),
      fetch(`${hosts.url}/github/repos/acme/web-app/contents/a.yaml?commit=abc`, {
        headers: { authorization: `Bearer ${hosts.tokens.github}`, "user-agent": "t" },
      }),
      fetch(`${hosts.url}/gitlab/api/v4/projects/acme/web-app/repository/branches/main`, {
        headers: { "private-token": hosts.tokens.gitlab },
      }),
      fetch(`${hosts.url}/gitea/api/v1/repos/acme/web-app/raw/a.yaml?sha=abc`, {
        headers: { authorization: `token ${hosts.tokens.gitea}` },
      }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([400, 400, 400, 400]);
    expect(hosts.rejected.slice(before).map((r) => r.reason)).toEqual([
      expect.stringContaining("not in github's API description"),
      'query parameter "commit" is not documented for this route',
      expect.stringContaining("not in gitlab's API description"),
      expect.stringContaining("not in gitea's API description"),
    ]);
    hosts.rejected.splice(before);
  });

  it("serves Gitea's pages at its MAX_RESPONSE_ITEMS, which the reader follows", async () => {
    hosts.giteaMaxItems = 30;
    try {
      hosts.pullRequest(
        "gitea",
        "acme/capped",
        3,
        Array.from({ length: 70 }, (_, i) => ({ filename: `f${i}` })),
      );
      expect(await apis.gitea.pullRequestFiles("acme/capped", 3, 1000)).toHaveLength(70);
    } finally {
      hosts.giteaMaxItems = 50;
    }
  });
});
