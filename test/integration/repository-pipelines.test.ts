import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommitStatus } from "../../core/ports.js";
import { createApiApp } from "../../functions/api.js";
import { createWebhookApp } from "../../functions/webhook.js";
import { FakeGitHosts } from "../fake-git-hosts/index.js";
import { testSystem } from "../helpers/system.js";
import { deliver, distinctBody, fixture } from "../helpers/webhooks.js";

const gitHosts = new FakeGitHosts();
const statuses: CommitStatus[] = [];
let system: Awaited<ReturnType<typeof testSystem>>;
let webhook: ReturnType<typeof createWebhookApp>;
let api: ReturnType<typeof createApiApp>;

const push = fixture("github-push");
const SHA = "6a831e64d1445ede4987d1c1092c4480c215fc9e";

const CI = `name: ci
triggers:
  - { provider: github, branches: [main] }
stages:
  - name: test
    tasks: [{ name: unit, run: { image: node:22, command: [npm, test] } }]
`;
const BROKEN = `name: deploy
triggers: [{ branches: [main] }]
stages:
  - name: ship
    tasks:
      - name: deploy
        run: { image: alpine }
`;

beforeAll(async () => {
  await gitHosts.start();
  system = await testSystem({
    gitHosts,
    commitStatus: { enabledFor: () => true, report: async (s) => void statuses.push(s) },
  });
  webhook = createWebhookApp(system.webhook);
  api = createApiApp(system.api);
});
afterAll(() => gitHosts.stop());

describe("pipelines in the repository", () => {
  it("are not read for a repository nobody enabled: no host API is called", async () => {
    gitHosts.push(
      "github",
      "acme/web-app",
      "main",
      { message: "m", author: "a", files: { ".hookflow.yaml": CI } },
      SHA,
    );
    const res = await deliver(webhook, "github", distinctBody(push, "off"), {
      deliveryId: "d-off",
      event: "push",
    });
    expect(res.status).toBe(200);
    expect(gitHosts.count("github")).toBe(0);
  });

  it("start runs named <repository>/<name> from .hookflow.yaml at the pushed commit once the repository is enabled", async () => {
    const enabled = await api.request("/api/repositories/github/acme%2Fweb-app", {
      method: "PUT",
      headers: { authorization: "Bearer test-api-token" },
    });
    expect(enabled.status).toBe(201);
    const res = await deliver(webhook, "github", distinctBody(push, "on"), {
      deliveryId: "d-on",
      event: "push",
    });
    expect(res.status).toBe(202);
    const { runs } = (await res.json()) as { runs: Array<{ id: string; pipeline: string }> };
    expect(runs.map((r) => r.pipeline)).toEqual(["acme/web-app/ci"]);
    const run = await system.stores.runs.getRun(runs[0]?.id ?? "");
    expect(run?.definition.triggers[0]).toMatchObject({ provider: "github", repository: "acme/web-app" });
    expect(gitHosts.rejected).toEqual([]);
  });

  it("report a broken file as a failed commit status naming the file, line and path, and still run the valid ones", async () => {
    gitHosts.push(
      "github",
      "acme/web-app",
      "main",
      { message: "m", author: "a", files: { ".hookflow.yaml": CI, ".hookflow/deploy.yaml": BROKEN } },
      "7b831e64d1445ede4987d1c1092c4480c215fc9e",
    );
    const next = {
      ...push,
      after: "7b831e64d1445ede4987d1c1092c4480c215fc9e",
      head_commit: { ...(push.head_commit as object), id: "7b831e64d1445ede4987d1c1092c4480c215fc9e" },
    };
    const res = await deliver(webhook, "github", next, { deliveryId: "d-broken", event: "push" });
    expect(res.status).toBe(202);
    expect(statuses).toEqual([
      expect.objectContaining({
        state: "failure",
        context: "hookflow/definitions",
        commit: "7b831e64d1445ede4987d1c1092c4480c215fc9e",
        description: expect.stringMatching(
          /^\.hookflow\/deploy\.yaml:7: stages\[0\]\.tasks\[0\]\.run\.command: /,
        ),
      }),
    ]);
  });

  it("are listed through the API at a branch's head, each with the file it came from, and the problems", async () => {
    const res = await api.request("/api/repositories/github/acme%2Fweb-app/pipelines?ref=main", {
      headers: { authorization: "Bearer test-api-token" },
    });
    expect(res.status).toBe(200);
    const listed = (await res.json()) as {
      commit: string;
      items: Array<{ name: string; file: string }>;
      problems: Array<{ file: string; line?: number; path: string }>;
    };
    expect(listed.commit).toBe("7b831e64d1445ede4987d1c1092c4480c215fc9e");
    expect(listed.items.map(({ name, file }) => ({ name, file }))).toEqual([
      { name: "acme/web-app/ci", file: ".hookflow.yaml" },
    ]);
    expect(listed.problems).toEqual([
      expect.objectContaining({
        file: ".hookflow/deploy.yaml",
        line: 7,
        path: "stages[0].tasks[0].run.command",
      }),
    ]);
    const notEnabled = await api.request("/api/repositories/github/acme%2Fother/pipelines", {
      headers: { authorization: "Bearer test-api-token" },
    });
    expect(notEnabled.status).toBe(404);
  });
});
