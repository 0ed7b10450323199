import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCommitStatusReporter } from "../../core/adapters/commit-status/index.js";
import { webhookProviders } from "../../core/adapters/git/index.js";
import type { Pipeline, Provider, Run, TaskLaunch } from "../../core/model/index.js";
import { createApiApp } from "../../functions/api.js";
import { createWebhookApp } from "../../functions/webhook.js";
import { FakeGitHosts } from "../fake-git-hosts/index.js";
import { driveRun } from "../helpers/drive.js";
import { jobTemplate, pipeline, runTask } from "../helpers/factories.js";
import type { MemoryRunner } from "../helpers/memory-runner.js";
import { PUBLIC_URL, testSystem } from "../helpers/system.js";
import { deliver, fixture } from "../helpers/webhooks.js";
import { type Receiver, startGiteaReceiver } from "../receivers/index.js";

/**
 * Pull and merge requests end to end: GitHub's own example deliveries (@octokit/webhooks-examples, verbatim),
 * GitLab's documented example (verbatim) and others in its shape, Gitea's in its documented shape, each signed
 * as its host signs, through the webhook app, the real scheduler on the emulators, the in-memory runner, the
 * API, the hosts' APIs played by test/fake-git-hosts, and a local Gitea statuses API.
 */

type GithubExample = Record<string, unknown> & {
  action: string;
  number: number;
  pull_request: {
    head: { ref: string; sha: string; repo: { full_name: string; clone_url: string } | null };
    base: { ref: string; sha: string; repo: { full_name: string } };
  };
  repository: { full_name: string; clone_url: string };
};

const require = createRequire(import.meta.url);
const EXAMPLES: Array<{ name: string; examples: GithubExample[] }> = require("@octokit/webhooks-examples");
const PR_EXAMPLES = EXAMPLES.find((e) => e.name === "pull_request")?.examples ?? [];
const example = (action: string): GithubExample => {
  const found = PR_EXAMPLES.find((e) => e.action === action);
  if (!found) throw new Error(`no pull_request.${action} example`);
  return structuredClone(found);
};

/** GitHub's example, its head moved to a fork (GitHub sends exactly this shape for a fork's pull request). */
function fromFork(payload: GithubExample, owner = "mallory"): GithubExample {
  const fork = structuredClone(payload);
  const repo = fork.pull_request.head.repo;
  if (!repo) throw new Error("example without a head repository");
  const name = repo.full_name.split("/")[1];
  fork.pull_request.head.repo = {
    ...repo,
    full_name: `${owner}/${name}`,
    clone_url: `https://github.com/${owner}/${name}.git`,
  };
  return fork;
}

/** The same pull request number in another repository of the same name's owner. */
function inRepository(payload: GithubExample, fullName: string): GithubExample {
  const moved = structuredClone(payload);
  moved.repository = {
    ...moved.repository,
    full_name: fullName,
    clone_url: `https://github.com/${fullName}.git`,
  };
  moved.pull_request.base.repo = { ...moved.pull_request.base.repo, full_name: fullName };
  if (moved.pull_request.head.repo)
    moved.pull_request.head.repo = {
      ...moved.pull_request.head.repo,
      full_name: fullName,
      clone_url: `https://github.com/${fullName}.git`,
    };
  return moved;
}

const SENSITIVE = "hunter2-secret";
const GITEA_TOKEN = "gitea-token-5d1c9e0f";
const API = { authorization: "Bearer test-api-token", "content-type": "application/json" };
let gitea: Receiver;
const hosts = new FakeGitHosts();
let system: Awaited<ReturnType<typeof testSystem>>;
let webhook: ReturnType<typeof createWebhookApp>;
let api: ReturnType<typeof createApiApp>;
let runner: MemoryRunner;
let deliveries = 0;

beforeAll(async () => {
  gitea = await startGiteaReceiver({ token: GITEA_TOKEN });
  await hosts.start();
  system = await testSystem({
    // The hosts' APIs (reads) are the fake's; Gitea's statuses (writes) go to the receiver.
    gitHosts: hosts,
    env: { HOOKFLOW_ROLES: JSON.stringify({ viewer: ["alice"] }) },
    commitStatus: createCommitStatusReporter({ giteaToken: GITEA_TOKEN, giteaUrl: gitea.origin }),
  });
  runner = system.runner as MemoryRunner;
  webhook = createWebhookApp(system.webhook);
  api = createApiApp(system.api);
  const now = new Date().toISOString();
  await system.stores.definitions.putJob(jobTemplate(), now);
  await system.stores.definitions.putJob(
    jobTemplate({ name: "guarded-deploy", requires: { forks: false, approval: { approvers: ["alice"] } } }),
    now,
  );
  const put = (p: Pipeline) => system.stores.definitions.putPipeline(p, now);
  await put(
    pipeline({
      name: "pr-checks",
      triggers: [
        {
          provider: "github",
          repository: "Codertocat/Hello-World",
          events: ["pull_request"],
          branches: ["master"],
        },
      ],
      stages: [
        {
          name: "check",
          tasks: [{ name: "build", job: "kaniko-build", params: { IMAGE: "registry.example.com/hw" } }],
        },
        {
          name: "ship",
          tasks: [
            {
              name: "publish",
              job: "kaniko-build",
              params: { IMAGE: "registry.example.com/hw" },
              approval: { approvers: ["alice"] },
            },
          ],
        },
      ],
    }),
  );
  await put(
    pipeline({
      name: "pr-lint",
      triggers: [
        { provider: "github", repository: "octo-a/shop", events: ["pull_request"] },
        { provider: "github", repository: "octo-b/shop", events: ["pull_request"] },
      ],
      concurrency: { group: "pr-${GIT_PULL_REQUEST}", cancelInProgress: true },
      stages: [{ name: "lint", tasks: [runTask("lint")] }],
    }),
  );
  await put(
    pipeline({
      name: "guarded",
      triggers: [{ provider: "github", repository: "octo-guard/app", events: ["pull_request"] }],
      stages: [
        {
          name: "check",
          tasks: [{ name: "build", job: "kaniko-build", params: { IMAGE: "registry.example.com/g" } }],
        },
        {
          name: "ship",
          // The pipeline says nothing of forks, and even asks for the deploy on pull requests: the template decides.
          tasks: [
            {
              name: "deploy",
              job: "guarded-deploy",
              params: { IMAGE: "registry.example.com/g" },
              when: { events: ["pull_request"] },
            },
          ],
        },
      ],
    }),
  );
  for (const [provider, repository] of [
    ["github", "octo-docs/site"],
    ["gitlab", "awesome_space/awesome_project"],
    ["gitea", "infra/docs"],
  ] as const)
    await put(
      pipeline({
        name: `docs-${provider}`,
        triggers: [{ provider, repository, events: ["pull_request"], paths: ["docs/**"] }],
        stages: [{ name: "build", tasks: [runTask("preview")] }],
      }),
    );
  await put(
    pipeline({
      name: "mr-checks",
      triggers: [{ provider: "gitlab", repository: "acme/platform/web-app", events: ["pull_request"] }],
      stages: [{ name: "check", tasks: [runTask("unit")] }],
    }),
  );
  await put(
    pipeline({
      name: "deploy-tools-pr",
      triggers: [{ provider: "gitea", repository: "infra/deploy-tools", events: ["pull_request"] }],
      stages: [{ name: "check", tasks: [runTask("test")] }],
    }),
  );
});
afterAll(async () => {
  await gitea?.close();
  await hosts.stop();
});

async function post(provider: Provider, payload: unknown, event: string) {
  const response = await deliver(webhook, provider, payload, { deliveryId: `pr-${++deliveries}`, event });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function started(provider: Provider, payload: unknown, event: string): Promise<string[]> {
  const { status, body } = await post(provider, payload, event);
  expect(status, JSON.stringify(body)).toBe(202);
  return (body.runs as Array<{ id: string }>).map((r) => r.id);
}

const launchesIn = (runId: string, task: string): TaskLaunch[] =>
  runner.launchesOf(task).filter((l) => l.runId === runId);

const taskOf = (run: Run, name: string) => run.stages.flatMap((s) => s.tasks).find((t) => t.name === name);

describe("GitHub pull_request deliveries (@octokit/webhooks-examples)", () => {
  it.each(["opened", "synchronize", "reopened"])("%s builds the head against its base", (action) => {
    const payload = example(action);
    const parsed = webhookProviders.github.parse({
      headers: { "x-github-event": "pull_request", "x-github-delivery": "d-1" },
      body: JSON.stringify(payload),
    });
    expect(parsed).toMatchObject({
      kind: "trigger",
      context: {
        provider: "github",
        event: "pull_request",
        repository: "Codertocat/Hello-World",
        ref: "refs/pull/2/head",
        branch: payload.pull_request.head.ref,
        commit: payload.pull_request.head.sha,
        cloneUrl: payload.pull_request.head.repo?.clone_url,
        pullRequest: {
          number: 2,
          baseBranch: "master",
          headRepository: "Codertocat/Hello-World",
          fork: false,
        },
      },
    });
  });

  it("every other action of GitHub's examples starts nothing, and says which", () => {
    const others = PR_EXAMPLES.filter((e) => !["opened", "synchronize", "reopened"].includes(e.action));
    expect(others.length).toBeGreaterThan(10);
    for (const payload of others)
      expect(
        webhookProviders.github.parse({
          headers: { "x-github-event": "pull_request", "x-github-delivery": "d-2" },
          body: JSON.stringify(payload),
        }),
      ).toEqual({
        kind: "ignored",
        deliveryId: "d-2",
        reason: `pull request action "${payload.action}" starts nothing`,
      });
  });

  it("a head in another repository is a fork; a deleted head repository too", () => {
    const parse = (payload: GithubExample) =>
      webhookProviders.github.parse({
        headers: { "x-github-event": "pull_request", "x-github-delivery": "d-3" },
        body: JSON.stringify(payload),
      });
    expect(parse(fromFork(example("opened")))).toMatchObject({
      context: {
        cloneUrl: "https://github.com/mallory/Hello-World.git",
        pullRequest: { headRepository: "mallory/Hello-World", fork: true },
      },
    });
    const gone = example("opened");
    gone.pull_request.head.repo = null;
    expect(parse(gone)).toMatchObject({
      context: { cloneUrl: gone.repository.clone_url, pullRequest: { headRepository: "", fork: true } },
    });
  });
});

describe("a fork's pull request", () => {
  it("runs without any sensitive value, holds its approval, and gets them only once trusted through the API", async () => {
    const [runId] = await started("github", fromFork(example("opened")), "pull_request");
    if (!runId) throw new Error("no run");
    await driveRun(system, runId, { done: () => launchesIn(runId, "build").length > 0 });

    const [build] = launchesIn(runId, "build");
    // Its own callback token only: that is how a task reports, and it is bound to this attempt.
    expect(Object.keys(build?.secretEnv ?? {})).toEqual(["HOOKFLOW_TASK_TOKEN"]);
    expect(JSON.stringify(build)).not.toContain(SENSITIVE);
    expect(build?.env).toMatchObject({
      GIT_PULL_REQUEST: "2",
      GIT_BASE_BRANCH: "master",
      GIT_BRANCH: "changes",
      GIT_COMMIT: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
      GIT_CLONE_URL: "https://github.com/mallory/Hello-World.git",
    });
    const logs = await api.request(`/api/runs/${runId}/tasks/build/logs`, { headers: API });
    expect(logs.status).toBe(200);
    expect(await logs.text()).not.toContain(SENSITIVE);

    runner.set(build?.jobName ?? "", { state: "succeeded" });
    const held = await driveRun(system, runId, { done: (r) => taskOf(r, "publish")?.status === "waiting" });
    expect(taskOf(held, "publish")).toMatchObject({ status: "waiting", reason: "HeldUntrusted" });

    // Approvals are a person's: alice's token, made by the bootstrap token.
    const made = await api.request("/api/tokens", {
      method: "POST",
      headers: { ...API, "content-type": "application/json" },
      body: JSON.stringify({ name: "alice", for: "alice" }),
    });
    const ALICE = { ...API, authorization: `Bearer ${((await made.json()) as { token: string }).token}` };
    const early = await api.request(`/api/runs/${runId}/tasks/publish/approve`, {
      method: "POST",
      headers: ALICE,
      body: JSON.stringify({ by: "alice" }),
    });
    expect(early.status).toBe(409);
    expect(((await early.json()) as { error: string }).error).toContain("trust it");
    expect(launchesIn(runId, "publish")).toEqual([]);

    const trusted = await api.request(`/api/runs/${runId}/trust`, { method: "POST", headers: API });
    expect(trusted.status).toBe(200);
    const view = (await trusted.json()) as { trustedBy?: { by: string } };
    expect(view.trustedBy?.by).toBe("token:bootstrap");
    const again = await api.request(`/api/runs/${runId}/trust`, { method: "POST", headers: API });
    expect(again.status).toBe(409);

    const approved = await api.request(`/api/runs/${runId}/tasks/publish/approve`, {
      method: "POST",
      headers: ALICE,
      body: JSON.stringify({ by: "alice" }),
    });
    expect(approved.status).toBe(200);
    await driveRun(system, runId, { done: () => launchesIn(runId, "publish").length > 0 });
    expect(launchesIn(runId, "publish")[0]?.secretEnv).toMatchObject({ REGISTRY_PASSWORD: SENSITIVE });
  });

  it("a pull request from the repository itself gets its sensitive values at once, and cannot be 'trusted'", async () => {
    const payload = { ...example("reopened"), hookflow_test_marker: "same-repo" };
    const [runId] = await started("github", payload, "pull_request");
    if (!runId) throw new Error("no run");
    await driveRun(system, runId, { done: () => launchesIn(runId, "build").length > 0 });
    expect(launchesIn(runId, "build")[0]?.secretEnv).toMatchObject({ REGISTRY_PASSWORD: SENSITIVE });
    const trust = await api.request(`/api/runs/${runId}/trust`, { method: "POST", headers: API });
    expect(trust.status).toBe(409);
  });
});

describe("concurrency per repository", () => {
  it("pull request #2 of one repository never cancels #2 of another; a new commit on the same one does", async () => {
    const [a1] = await started("github", inRepository(example("opened"), "octo-a/shop"), "pull_request");
    const [b1] = await started("github", inRepository(example("opened"), "octo-b/shop"), "pull_request");
    if (!a1 || !b1) throw new Error("no run");
    const running = (r: Run) => r.status === "running";
    const runA = await driveRun(system, a1, { done: running });
    const runB = await driveRun(system, b1, { done: running });
    expect(runA.concurrencyGroup).toBe("github:octo-a/shop:pr-2");
    expect(runB.concurrencyGroup).toBe("github:octo-b/shop:pr-2");

    const newer = inRepository(example("synchronize"), "octo-a/shop");
    newer.pull_request.head.sha = "1111111111111111111111111111111111111111";
    const [a2] = await started("github", newer, "pull_request");
    if (!a2) throw new Error("no run");
    await driveRun(system, a2, { done: running });
    const canceled = await driveRun(system, a1, { done: (r) => r.status === "canceled" });
    expect(canceled.reason).toBe("CanceledByNewerRun");
    expect((await system.stores.runs.getRun(b1))?.status).toBe("running");
  });
});

describe("GitLab merge requests", () => {
  const mr = (attributes: Record<string, unknown>, marker: string) => {
    const payload = fixture("gitlab-merge-request") as { object_attributes: Record<string, unknown> };
    return {
      ...payload,
      object_attributes: { ...payload.object_attributes, ...attributes },
      hookflow_test_marker: marker,
    };
  };

  it("GitLab's documented example (verbatim) is an open merge request of its target project", () => {
    expect(
      webhookProviders.gitlab.parse({
        headers: { "x-gitlab-event": "Merge Request Hook", "idempotency-key": "gl-docs" },
        body: JSON.stringify(fixture("gitlab-docs-merge-request")),
      }),
    ).toEqual({
      kind: "trigger",
      deliveryId: "gl-docs",
      context: expect.objectContaining({
        provider: "gitlab",
        event: "pull_request",
        repository: "awesome_space/awesome_project",
        cloneUrl: "http://example.com/awesome_space/awesome_project.git",
        ref: "refs/merge-requests/1/head",
        branch: "ms-viewport",
        commit: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        message: "fixed readme",
        author: "root",
        pullRequest: {
          number: 1,
          baseBranch: "master",
          headRepository: "awesome_space/awesome_project",
          fork: false,
        },
      }),
    });
  });

  it("open starts the pipeline with the IID, the target branch and the head", async () => {
    const [runId] = await started("gitlab", mr({}, "open"), "Merge Request Hook");
    const run = await system.stores.runs.getRun(runId ?? "");
    expect(run?.trigger).toMatchObject({
      event: "pull_request",
      repository: "acme/platform/web-app",
      ref: "refs/merge-requests/12/head",
      branch: "feature/checkout",
      commit: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      pullRequest: { number: 12, baseBranch: "main", fork: false },
    });
    expect(run?.variables).toMatchObject({ GIT_PULL_REQUEST: "12", GIT_BASE_BRANCH: "main" });
  });

  it("update builds only when it pushed commits (oldrev); a source project of its own is a fork", async () => {
    const edit = await post("gitlab", mr({ action: "update" }, "edit"), "Merge Request Hook");
    expect(edit).toEqual({
      status: 200,
      body: expect.objectContaining({
        ignored: 'pull request action "update without new commits" starts nothing',
      }),
    });
    const pushed = mr(
      { action: "update", oldrev: "e59094b3c9b4b0d7e1c8a4f2b7d6c5e4f3a2b1c0", source_project_id: 99 },
      "pushed",
    );
    const [runId] = await started("gitlab", pushed, "Merge Request Hook");
    expect((await system.stores.runs.getRun(runId ?? ""))?.trigger.pullRequest?.fork).toBe(true);
  });

  it.each(["[skip ci]", "[ci skip]"])(
    "%s in the head commit's message starts nothing, and says so",
    async (marker) => {
      const payload = mr(
        {
          last_commit: {
            ...(fixture("gitlab-merge-request") as { object_attributes: { last_commit: object } })
              .object_attributes.last_commit,
            message: `Fix a typo ${marker}\n`,
          },
        },
        `skip ${marker}`,
      );
      const answer = await post("gitlab", payload, "Merge Request Hook");
      expect(answer).toEqual({
        status: 200,
        body: { delivery: expect.any(String), ignored: `the head commit's message says ${marker}` },
      });
    },
  );
});

describe("Gitea pull requests and statuses", () => {
  it("opened runs the pipeline and reports its status on the head commit, linking to the run's page", async () => {
    const [runId] = await started("gitea", fixture("gitea-pull-request"), "pull_request");
    if (!runId) throw new Error("no run");
    const head = "0e2f8a4b6c1d3e5f7a9b0c2d4e6f8a1b3c5d7e9f";
    await driveRun(system, runId, { done: () => gitea.accepted.length > 0 });
    expect(gitea.rejected).toEqual([]);
    const [status] = gitea.accepted;
    expect(status?.path).toBe(`/api/v1/repos/infra/deploy-tools/statuses/${head}`);
    expect(JSON.parse(status?.body ?? "{}")).toEqual({
      state: "pending",
      context: "hookflow/deploy-tools-pr",
      description: expect.any(String),
      target_url: expect.stringMatching(
        new RegExp(`^${PUBLIC_URL}/runs/${runId}\\?grant=\\d+\\.[\\w-]{43}$`),
      ),
    });
  });

  it("synchronized builds, a fork is told by its repository id, closed starts nothing", () => {
    const parse = (payload: unknown, event = "pull_request") =>
      webhookProviders.gitea.parse({
        headers: { "x-gitea-event": event, "x-gitea-delivery": "g-1" },
        body: JSON.stringify(payload),
      });
    const payload = fixture("gitea-pull-request") as {
      pull_request: { head: { repo_id: number; repo: { full_name: string } } };
    };
    expect(parse({ ...payload, action: "synchronized" })).toMatchObject({
      context: { pullRequest: { number: 5, baseBranch: "develop", fork: false } },
    });
    const fork = structuredClone(payload);
    fork.pull_request.head.repo_id = 8;
    fork.pull_request.head.repo.full_name = "grace/deploy-tools";
    expect(parse(fork)).toMatchObject({
      context: { pullRequest: { headRepository: "grace/deploy-tools", fork: true } },
    });
    expect(parse({ ...payload, action: "closed" })).toMatchObject({ kind: "ignored" });
  });
});

const EVENTS: Record<Provider, string> = {
  github: "pull_request",
  gitlab: "Merge Request Hook",
  gitea: "pull_request",
};
type GiteaPayload = { repository: { full_name: string }; pull_request: { head: { sha: string } } };

describe("a pull request's changed files, from the host's API", () => {
  const docs = {
    github: { repository: "octo-docs/site", number: 2 },
    gitlab: { repository: "awesome_space/awesome_project", number: 1 },
    gitea: { repository: "infra/docs", number: 5 },
  } as const;
  const payload = (provider: Provider, marker: string): Record<string, unknown> => {
    if (provider === "github")
      return { ...inRepository(example("opened"), docs.github.repository), hookflow_test_marker: marker };
    // GitLab's documented example, verbatim: its target project is awesome_space/awesome_project, MR !1.
    if (provider === "gitlab")
      return { ...fixture("gitlab-docs-merge-request"), hookflow_test_marker: marker };
    const gitea = fixture("gitea-pull-request") as GiteaPayload;
    return {
      ...gitea,
      repository: { ...gitea.repository, full_name: docs.gitea.repository },
      hookflow_test_marker: marker,
    };
  };
  const fileReads = (provider: Provider) =>
    hosts.requests.filter((r) => r.provider === provider && /\/(files|diffs)$/.test(r.path)).length;

  it.each(["github", "gitlab", "gitea"] as const)(
    "%s: decide a `paths` filter: a change outside it starts nothing, one inside (a rename's old path too) starts the pipeline",
    async (provider) => {
      const { repository, number } = docs[provider];
      hosts.pullRequest(provider, repository, number, [{ filename: "src/app.ts" }]);
      const before = fileReads(provider);
      const outside = await post(provider, payload(provider, "outside"), EVENTS[provider]);
      expect(outside.status).toBe(200);
      expect(outside.body.ignored).toMatch(
        new RegExp(`^no pipeline matches ${provider} ${repository} pull request`),
      );
      // Gitea may serve fewer entries a page than asked (its MAX_RESPONSE_ITEMS): one more read ends the list.
      expect(fileReads(provider) - before).toBe(provider === "gitea" ? 2 : 1);

      hosts.pullRequest(provider, repository, number, [
        { filename: "src/app.ts" },
        { filename: "guide/intro.md", previous: "docs/intro.md" },
      ]);
      const runs = await started(provider, payload(provider, "renamed"), EVENTS[provider]);
      expect(runs).toHaveLength(1);
      expect(hosts.rejected).toEqual([]);
    },
  );

  it("are asked only when a matching pipeline filters on paths", async () => {
    const before = fileReads("github");
    await started(
      "github",
      { ...inRepository(example("opened"), "octo-b/shop"), hookflow_test_marker: "np" },
      "pull_request",
    );
    expect(fileReads("github")).toBe(before);
  });

  it("more than are read count as unknown, so the pipeline runs, after at most 11 reads", async () => {
    const many = Array.from({ length: 3000 }, (_, i) => ({ filename: `src/f${i}.ts` }));
    hosts.pullRequest("github", docs.github.repository, docs.github.number, many);
    const before = fileReads("github");
    expect(await started("github", payload("github", "many"), "pull_request")).toHaveLength(1);
    expect(fileReads("github") - before).toBe(11);
  });

  it("a host that refuses for good (a token without the right) leaves them unknown: the pipeline runs", async () => {
    hosts.pullRequest("github", docs.github.repository, docs.github.number, [{ filename: "src/a.ts" }]);
    hosts.fail("github", 401);
    expect(await started("github", payload("github", "refused"), "pull_request")).toHaveLength(1);
  });

  it("a host that cannot answer now fails the delivery, so the host redelivers it, and nothing starts", async () => {
    hosts.pullRequest("github", docs.github.repository, docs.github.number, [{ filename: "docs/a.md" }]);
    hosts.fail("github", 503);
    const body = payload("github", "down");
    const down = await post("github", body, "pull_request");
    expect(down.status).toBe(503);
    expect(down.body).not.toHaveProperty("runs");
    expect(await started("github", body, "pull_request")).toHaveLength(1);
  });
});

describe("[skip ci] on GitHub and Gitea pull requests (their payloads carry no commit message)", () => {
  const commitReads = (provider: Provider) =>
    hosts.requests.filter((r) => r.provider === provider && r.path.includes("/commits/")).length;

  it.each([
    ["github", "[skip ci]"],
    ["gitea", "[ci skip]"],
  ] as const)(
    "%s: the head commit's message, asked of the host, says %s: nothing starts",
    async (provider, marker) => {
      const body =
        provider === "github"
          ? { ...inRepository(example("synchronize"), "octo-b/shop"), hookflow_test_marker: marker }
          : { ...fixture("gitea-pull-request"), hookflow_test_marker: marker };
      const repository = (body as { repository: { full_name: string } }).repository.full_name;
      const head = (body as GiteaPayload).pull_request.head.sha;
      hosts.commit(provider, repository, head, {
        message: `Fix a typo ${marker}\n`,
        author: "Ada",
        files: {},
      });
      const before = commitReads(provider);
      expect(await post(provider, body, "pull_request")).toEqual({
        status: 200,
        body: { delivery: expect.any(String), ignored: `the head commit's message says ${marker}` },
      });
      expect(commitReads(provider) - before).toBe(1);
      expect(hosts.rejected).toEqual([]);
      hosts.commit(provider, repository, head, { message: "unrelated", author: "Ada", files: {} });
    },
  );

  it("a message without the marker reaches the tasks; a delivery no pipeline matches asks nothing", async () => {
    const body = {
      ...fixture("gitea-pull-request"),
      hookflow_test_marker: "plain",
    } as unknown as GiteaPayload;
    hosts.commit("gitea", body.repository.full_name, body.pull_request.head.sha, {
      message: "Add the deploy script\n",
      author: "Ada",
      files: {},
    });
    const [runId] = await started("gitea", body, "pull_request");
    const run = await system.stores.runs.getRun(runId ?? "");
    expect(run?.variables.GIT_COMMIT_MESSAGE).toBe("Add the deploy script\n");

    const before = commitReads("github");
    const nobody = await post(
      "github",
      { ...inRepository(example("opened"), "nobody/none") },
      "pull_request",
    );
    expect(nobody.body.ignored).toMatch(/^no pipeline matches/);
    expect(commitReads("github")).toBe(before);
  });
});

describe("a job template's `requires.forks: false`", () => {
  it("keeps its task from a fork's pull request, saying why, and trusting the run does not lift it", async () => {
    const [runId] = await started(
      "github",
      fromFork(inRepository(example("opened"), "octo-guard/app")),
      "pull_request",
    );
    if (!runId) throw new Error("no run");
    await driveRun(system, runId, { done: () => launchesIn(runId, "build").length > 0 });
    const trusted = await api.request(`/api/runs/${runId}/trust`, { method: "POST", headers: API });
    expect(trusted.status).toBe(200);
    runner.set(launchesIn(runId, "build")[0]?.jobName ?? "", { state: "succeeded" });
    const done = await driveRun(system, runId, { done: (r) => r.status === "succeeded" });
    expect(done.trustedBy).toBeDefined();
    const refusal = {
      status: "skipped",
      reason: "RequirementNotMet",
      message: "job template guarded-deploy never runs for a pull request from a fork",
    };
    expect(taskOf(done, "deploy")).toMatchObject(refusal);

    const rerun = await api.request(`/api/runs/${runId}/rerun`, {
      method: "POST",
      headers: API,
      body: JSON.stringify({ task: "deploy" }),
    });
    expect(rerun.status).toBe(200);
    const again = await driveRun(system, runId, { done: (r) => r.status === "succeeded" });
    expect(taskOf(again, "deploy")).toMatchObject(refusal);
    expect(launchesIn(runId, "deploy")).toEqual([]);
  });

  it("holds as well for a pipeline kept in the repository's own file", async () => {
    const repository = "octo-guard/files";
    hosts.push("github", repository, "master", {
      message: "pipelines",
      author: "Ada",
      files: {
        ".hookflow.yaml": [
          "name: ci",
          "triggers: [{ provider: github, events: [pull_request] }]",
          "stages:",
          "  - name: ship",
          "    tasks: [{ name: deploy, job: guarded-deploy, params: { IMAGE: registry.example.com/f } }]",
          "",
        ].join("\n"),
      },
    });
    const enabled = await api.request(`/api/repositories/github/${encodeURIComponent(repository)}`, {
      method: "PUT",
      headers: API,
    });
    expect(enabled.status).toBe(201);
    const [runId] = await started(
      "github",
      fromFork(inRepository(example("opened"), repository)),
      "pull_request",
    );
    if (!runId) throw new Error("no run");
    const done = await driveRun(system, runId, { done: (r) => r.status === "succeeded" });
    expect(done.pipeline).toBe("octo-guard/files/ci");
    expect(taskOf(done, "deploy")).toMatchObject({
      status: "skipped",
      reason: "RequirementNotMet",
      message: "job template guarded-deploy never runs for a pull request from a fork",
    });
    expect(launchesIn(runId, "deploy")).toEqual([]);
    expect(hosts.rejected).toEqual([]);
  });

  it("lets the same task wait for the template's approvers on a pull request from the repository itself", async () => {
    const [runId] = await started(
      "github",
      inRepository(example("reopened"), "octo-guard/app"),
      "pull_request",
    );
    if (!runId) throw new Error("no run");
    await driveRun(system, runId, { done: () => launchesIn(runId, "build").length > 0 });
    runner.set(launchesIn(runId, "build")[0]?.jobName ?? "", { state: "succeeded" });
    const waiting = await driveRun(system, runId, { done: (r) => taskOf(r, "deploy")?.status === "waiting" });
    expect(taskOf(waiting, "deploy")).toMatchObject({ reason: "AwaitingApproval" });
  });
});

describe("malformed pull request deliveries", () => {
  it("answer 400 with the path of each missing field, and start nothing", async () => {
    const broken = example("opened") as unknown as { pull_request: { head: Record<string, unknown> } };
    delete broken.pull_request.head.sha;
    const answer = await post("github", broken, "pull_request");
    expect(answer.status).toBe(400);
    expect(answer.body.issues).toEqual([expect.objectContaining({ path: "pull_request.head.sha" })]);
  });
});
