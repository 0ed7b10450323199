import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCommitStatusReporter } from "../../core/adapters/commit-status/index.js";
import { webhookProviders } from "../../core/adapters/git/index.js";
import { silentLogger } from "../../core/adapters/system.js";
import type { Pipeline, Provider, Run, TaskLaunch } from "../../core/model/index.js";
import type { PullRequestFiles, PullRequestRef } from "../../core/ports.js";
import { IngestService } from "../../core/services/ingest.js";
import { DeliveryIntake } from "../../core/services/intake.js";
import { RunStarter } from "../../core/services/start-runs.js";
import { createApiApp } from "../../functions/api.js";
import { createWebhookApp } from "../../functions/webhook.js";
import { driveRun } from "../helpers/drive.js";
import { jobTemplate, pipeline, runTask } from "../helpers/factories.js";
import type { MemoryRunner } from "../helpers/memory-runner.js";
import { PUBLIC_URL, SECRETS, testSystem } from "../helpers/system.js";
import { deliver, fixture } from "../helpers/webhooks.js";
import { type Receiver, startGiteaReceiver } from "../receivers/index.js";

/**
 * Pull and merge requests end to end: GitHub's own example deliveries (@octokit/webhooks-examples, verbatim),
 * GitLab's and Gitea's in their documented shapes, each signed as its host signs, through the webhook app,
 * the real scheduler on the emulators, the in-memory runner, the API, and a local Gitea statuses API.
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
let system: Awaited<ReturnType<typeof testSystem>>;
let webhook: ReturnType<typeof createWebhookApp>;
let api: ReturnType<typeof createApiApp>;
let runner: MemoryRunner;
let deliveries = 0;

beforeAll(async () => {
  gitea = await startGiteaReceiver({ token: GITEA_TOKEN });
  system = await testSystem({
    env: {
      HOOKFLOW_GITEA_URL: gitea.origin,
      HOOKFLOW_GITEA_TOKEN: GITEA_TOKEN,
      HOOKFLOW_ROLES: JSON.stringify({ viewer: ["alice"] }),
    },
    commitStatus: createCommitStatusReporter({ giteaToken: GITEA_TOKEN, giteaUrl: gitea.origin }),
  });
  runner = system.runner as MemoryRunner;
  webhook = createWebhookApp(system.webhook);
  api = createApiApp(system.api);
  const now = new Date().toISOString();
  await system.stores.definitions.putJob(jobTemplate(), now);
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
      name: "docs-preview",
      triggers: [
        { provider: "github", repository: "octo-docs/site", events: ["pull_request"], paths: ["docs/**"] },
      ],
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

describe("a pull request's changed files", () => {
  /** The port as the hosts' API adapter fills it; here it answers from a table and counts the questions. */
  function filesFrom(table: Record<string, string[] | undefined>) {
    const asked: PullRequestRef[] = [];
    const port: PullRequestFiles = {
      async changedFiles(pr) {
        asked.push(pr);
        return table[pr.repository];
      },
    };
    const starter = new RunStarter({
      store: system.stores.deliveries,
      queue: system.queue,
      clock: system.clock,
      commitStatus: { enabledFor: () => false },
      log: silentLogger,
    });
    const intake = new DeliveryIntake({
      providers: webhookProviders,
      secrets: SECRETS,
      ingest: new IngestService({
        deliveries: system.stores.deliveries,
        catalog: system.catalog,
        starter,
        clock: system.clock,
        pullRequestFiles: port,
      }),
      log: silentLogger,
    });
    return { asked, app: createWebhookApp({ intake, log: silentLogger }) };
  }
  const send = async (app: ReturnType<typeof createWebhookApp>, payload: unknown) => {
    const response = await deliver(app, "github", payload, {
      deliveryId: `files-${++deliveries}`,
      event: "pull_request",
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("are asked of the host only when a matching pipeline filters on paths, and decide it", async () => {
    const { asked, app } = filesFrom({ "octo-docs/site": ["src/app.ts"] });
    const skipped = await send(app, {
      ...inRepository(example("opened"), "octo-docs/site"),
      hookflow_test_marker: "a",
    });
    expect(skipped.status).toBe(200);
    expect(skipped.body.ignored).toMatch(
      /no pipeline matches github octo-docs\/site pull request #2 into master/,
    );
    expect(asked).toEqual([{ provider: "github", repository: "octo-docs/site", number: 2 }]);

    // A pipeline without `paths` asks nothing of the host.
    await send(app, { ...inRepository(example("opened"), "octo-a/shop"), hookflow_test_marker: "b" });
    expect(asked).toHaveLength(1);
  });

  it("that touch a watched path start the pipeline, and unknown ones run it rather than skip it", async () => {
    const touched = filesFrom({ "octo-docs/site": ["docs/intro.md"] });
    const started = await send(touched.app, {
      ...inRepository(example("opened"), "octo-docs/site"),
      hookflow_test_marker: "c",
    });
    expect(started.status).toBe(202);
    const unknown = filesFrom({});
    const ran = await send(unknown.app, {
      ...inRepository(example("opened"), "octo-docs/site"),
      hookflow_test_marker: "d",
    });
    expect(ran.status).toBe(202);
    expect(unknown.asked).toHaveLength(1);
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
