import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunView } from "../../core/engine/index.js";
import type { Provider } from "../../core/model/index.js";
import { createApiApp } from "../../functions/api.js";
import { FakeGitHosts } from "../fake-git-hosts/index.js";
import { pipeline } from "../helpers/factories.js";
import { testSystem } from "../helpers/system.js";

const gitHosts = new FakeGitHosts();
let withHosts: ReturnType<typeof createApiApp>;
let withoutHosts: ReturnType<typeof createApiApp>;

const REPOS: Record<Provider, string> = {
  github: "acme/web",
  gitlab: "acme/platform/web",
  gitea: "acme/web",
};

beforeAll(async () => {
  await gitHosts.start();
  const [hosted, bare] = await Promise.all([testSystem({ gitHosts }), testSystem()]);
  for (const system of [hosted, bare])
    for (const provider of Object.keys(REPOS) as Provider[])
      await system.stores.definitions.putPipeline(
        pipeline({ name: `on-${provider}`, triggers: [{ provider, repository: REPOS[provider] }] }),
        "2026-01-01T00:00:00.000Z",
      );
  withHosts = createApiApp(hosted.api);
  withoutHosts = createApiApp(bare.api);
});
afterAll(() => gitHosts.stop());

const start = (app: ReturnType<typeof createApiApp>, name: string, body: unknown) =>
  app.request(`/api/pipelines/${name}/runs`, {
    method: "POST",
    headers: { authorization: "Bearer test-api-token", "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe.each(Object.keys(REPOS) as Provider[])("a manual run on %s", (provider) => {
  const repository = REPOS[provider];

  it("builds the branch's head, resolved through the host's API, and clones from the host", async () => {
    const sha = gitHosts.push(provider, repository, "release/2", {
      message: "Fix the thing",
      author: "Grace",
      files: {},
    });
    const res = await start(withHosts, `on-${provider}`, { ref: "release/2" });
    expect(res.status).toBe(201);
    const run = (await res.json()) as RunView;
    expect(run.trigger).toMatchObject({
      commit: sha,
      branch: "release/2",
      message: "Fix the thing",
      author: "Grace",
      cloneUrl: `${gitHosts.settings()[provider === "github" ? "HOOKFLOW_GITHUB_API_URL" : provider === "gitlab" ? "HOOKFLOW_GITLAB_URL" : "HOOKFLOW_GITEA_URL"]}/${repository}.git`,
    });
    expect(gitHosts.rejected).toEqual([]);
  });

  it("answers 400 for a branch the host does not have, and starts nothing", async () => {
    const res = await start(withHosts, `on-${provider}`, { ref: "no-such-branch" });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      issues: [{ path: "ref", message: `${provider} has no branch no-such-branch in ${repository}` }],
    });
  });

  it("without the host's token, refuses a branch run without a commit, naming the setting; a given commit runs", async () => {
    const before = gitHosts.count(provider);
    const refused = await start(withoutHosts, `on-${provider}`, {});
    expect(refused.status).toBe(400);
    const setting = {
      github: "HOOKFLOW_GITHUB_TOKEN",
      gitlab: "HOOKFLOW_GITLAB_API_TOKEN",
      gitea: "HOOKFLOW_GITEA_TOKEN",
    }[provider];
    expect(((await refused.json()) as { issues: Array<{ message: string }> }).issues[0]?.message).toContain(
      setting,
    );
    const given = await start(withoutHosts, `on-${provider}`, { commit: "b".repeat(40) });
    expect(given.status).toBe(201);
    expect(((await given.json()) as RunView).trigger.commit).toBe("b".repeat(40));
    expect(gitHosts.count(provider)).toBe(before);
  });
});
