import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { signGithub, webhookProviders } from "../../core/adapters/git/index.js";
import { silentLogger } from "../../core/adapters/system.js";
import { deliveryRunId } from "../../core/engine/index.js";
import { RetryableError } from "../../core/errors.js";
import { parseWorkMessage } from "../../core/services/batch.js";
import { IngestService } from "../../core/services/ingest.js";
import { DeliveryIntake } from "../../core/services/intake.js";
import { RunStarter } from "../../core/services/start-runs.js";
import { createWebhookApp } from "../../functions/webhook.js";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../infra/local/emulators.js";
import {
  countingProxy,
  dynamoClient,
  freshStore,
  interceptOnce,
  recordRequests,
  roundTrips,
  sqsClient,
  traceRequests,
  UNREACHABLE,
} from "../helpers/aws.js";
import { jobTemplate, pipeline } from "../helpers/factories.js";
import { SECRETS, testSystem } from "../helpers/system.js";
import { deliver, distinctBody, fixture } from "../helpers/webhooks.js";

type System = Awaited<ReturnType<typeof testSystem>>;
let system: System;
let app: ReturnType<typeof createWebhookApp>;

beforeAll(async () => {
  system = await testSystem();
  app = createWebhookApp(system.webhook);
  const now = new Date().toISOString();
  await system.stores.definitions.putPipeline(
    pipeline({
      name: "web",
      triggers: [{ provider: "github", repository: "acme/web-app", events: ["push", "tag"] }],
    }),
    now,
  );
  await system.stores.definitions.putPipeline(
    pipeline({
      name: "web-docs",
      triggers: [{ provider: "github", repository: "acme/web-app", branches: ["main"], paths: ["docs/**"] }],
    }),
    now,
  );
  await system.stores.definitions.putPipeline(
    pipeline({
      name: "platform",
      triggers: [{ provider: "gitlab", repository: "acme/platform/web-app", events: ["tag"], tags: ["v*"] }],
    }),
    now,
  );
  await system.stores.definitions.putPipeline(
    pipeline({
      name: "deploy-tools",
      triggers: [{ provider: "gitea", repository: "infra/deploy-tools", branches: ["develop"] }],
    }),
    now,
  );
});

async function queued() {
  const messages = await system.queues.queue.receive({ waitSeconds: 0 });
  await Promise.all(messages.map((m) => system.queues.queue.delete(m.ReceiptHandle ?? "")));
  return messages.map((m) => parseWorkMessage(m.Body ?? ""));
}

describe("POST /webhooks/github", () => {
  it("stores a run per matching pipeline with the git variables, queues it, and answers 202", async () => {
    const res = await deliver(app, "github", fixture("github-push"), { deliveryId: "gh-1" });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { delivery: string; runs: Array<{ id: string; pipeline: string }> };
    expect(body.delivery).toBe("gh-1");
    expect(body.runs.map((r) => r.pipeline)).toEqual(["web"]);
    const run = await system.stores.runs.getRun(body.runs[0]?.id ?? "");
    expect(run).toMatchObject({
      status: "pending",
      version: 1,
      trigger: { provider: "github", event: "push", branch: "main" },
    });
    expect(run?.variables).toMatchObject({
      GIT_PROVIDER: "github",
      GIT_REPOSITORY: "acme/web-app",
      GIT_REF: "refs/heads/main",
      GIT_BRANCH: "main",
      GIT_COMMIT: "6a831e64d1445ede4987d1c1092c4480c215fc9e",
      GIT_CLONE_URL: "https://github.com/acme/web-app.git",
    });
    expect(run?.variables.APP_VERSION).toMatch(/^\d{8}-main-6a831e64$/);
    expect(await queued()).toEqual([{ runId: body.runs[0]?.id, event: { type: "run.created" } }]);
  });

  it("answers a repeated delivery with the same runs and creates none", async () => {
    const first = (await (
      await deliver(app, "github", fixture("github-tag-push"), { deliveryId: "gh-2" })
    ).json()) as {
      runs: unknown[];
    };
    const before = (await system.stores.runs.listRuns({ limit: 100 })).items.length;
    const again = await deliver(app, "github", fixture("github-tag-push"), { deliveryId: "gh-2" });
    expect(again.status).toBe(202);
    expect(((await again.json()) as { runs: unknown[] }).runs).toEqual(first.runs);
    expect((await system.stores.runs.listRuns({ limit: 100 })).items.length).toBe(before);
    await queued();
  });

  it("a repeat after a new pipeline appeared starts only that one; the first runs go on", async () => {
    const first = await deliver(app, "github", distinctBody(fixture("github-push"), "repeat"), {
      deliveryId: "gh-repeat",
    });
    const { runs } = (await first.json()) as { runs: Array<{ id: string; pipeline: string }> };
    for (const message of await queued()) await system.scheduler.handle(message);
    await system.stores.definitions.putPipeline(
      pipeline({ name: "newcomer", triggers: [{ provider: "github", repository: "acme/web-app" }] }),
      new Date().toISOString(),
    );
    const again = await deliver(app, "github", distinctBody(fixture("github-push"), "repeat"), {
      deliveryId: "gh-repeat",
    });
    const repeated = ((await again.json()) as { runs: Array<{ id: string; pipeline: string }> }).runs;
    expect(repeated.filter((r) => r.pipeline === "web")).toEqual(runs);
    expect((await system.stores.runs.getRun(runs[0]?.id ?? ""))?.status).toBe("running");
    expect((await system.stores.runs.listRuns({ pipeline: "newcomer", limit: 10 })).items).toHaveLength(1);
    await system.stores.definitions.deletePipeline("newcomer");
    await queued();
  });

  it("starts a tag pipeline with APP_VERSION set to the tag", async () => {
    const res = await deliver(app, "github", fixture("github-tag-push"), { deliveryId: "gh-3" });
    const { runs } = (await res.json()) as { runs: Array<{ id: string }> };
    const run = await system.stores.runs.getRun(runs[0]?.id ?? "");
    expect(run?.variables).toMatchObject({ GIT_TAG: "v1.4.0", GIT_BRANCH: "", APP_VERSION: "v1.4.0" });
    await queued();
  });

  it.each([
    ["a branch deletion", "github-branch-delete", "push", /deleted/],
    ["a ping", "github-ping", "ping", /ping/],
    ["another event", "github-ping", "issues", /not a push/],
  ])("answers 200 and starts nothing for %s", async (_, name, event, reason) => {
    const res = await deliver(app, "github", fixture(name), { deliveryId: `gh-${name}-${event}`, event });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { ignored: string }).ignored).toMatch(reason);
    expect(await queued()).toEqual([]);
  });

  it("answers 200 {ignored} when no pipeline matches", async () => {
    const payload = {
      ...fixture("github-push"),
      ref: "refs/heads/main",
      repository: { ...(fixture("github-push").repository as object), full_name: "acme/other" },
    };
    const res = await deliver(app, "github", payload, { deliveryId: "gh-nomatch" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      delivery: "gh-nomatch",
      ignored: "no pipeline matches github acme/other push to main",
    });
  });
});

describe("GitLab and Gitea", () => {
  it("start runs from a GitLab tag push, and skip a push no trigger wants", async () => {
    const tag = await deliver(app, "gitlab", fixture("gitlab-tag-push"), { deliveryId: "gl-1" });
    expect(tag.status).toBe(202);
    const { runs } = (await tag.json()) as { runs: Array<{ id: string; pipeline: string }> };
    expect(runs.map((r) => r.pipeline)).toEqual(["platform"]);
    expect((await system.stores.runs.getRun(runs[0]?.id ?? ""))?.variables).toMatchObject({
      GIT_PROVIDER: "gitlab",
      GIT_TAG: "v2.0.0",
    });
    const push = await deliver(app, "gitlab", fixture("gitlab-push"), { deliveryId: "gl-2" });
    expect(push.status).toBe(200);
    await queued();
  });

  it("start a run from a Gitea push", async () => {
    const res = await deliver(app, "gitea", fixture("gitea-push"), { deliveryId: "gt-1" });
    expect(res.status).toBe(202);
    const { runs } = (await res.json()) as { runs: Array<{ id: string; pipeline: string }> };
    expect(runs.map((r) => r.pipeline)).toEqual(["deploy-tools"]);
    expect((await system.stores.runs.getRun(runs[0]?.id ?? ""))?.variables).toMatchObject({
      GIT_BRANCH: "develop",
      GIT_PROVIDER: "gitea",
    });
    await queued();
  });
});

describe("a body replayed under a new delivery id", () => {
  type Answer = { delivery: string; runs: Array<{ id: string; pipeline: string }>; replayOf?: string };
  const runCount = async () => (await system.stores.runs.listRuns({ limit: 1000 })).items.length;

  it.each([
    ["github", "github-push"],
    ["gitlab", "gitlab-tag-push"],
    ["gitea", "gitea-push"],
  ] as const)(
    "%s: answers 202 with the runs the body made first, and starts nothing",
    async (provider, name) => {
      const body = distinctBody(fixture(name), `replay-${provider}`);
      const first = await deliver(app, provider, body, { deliveryId: `${provider}-original` });
      expect(first.status).toBe(202);
      const made = ((await first.json()) as Answer).runs;
      expect(made).toHaveLength(1);
      await queued();
      const before = await runCount();

      const replay = await deliver(app, provider, body, { deliveryId: `${provider}-replayed` });
      expect(replay.status).toBe(202);
      expect(await replay.json()).toEqual({
        delivery: `${provider}-replayed`,
        runs: made,
        replayOf: `${provider}-original`,
      });
      expect(await runCount()).toBe(before);
      expect(await queued()).toEqual([]);

      // The git host's own redelivery (same id) still answers as before.
      const redelivered = await deliver(app, provider, body, { deliveryId: `${provider}-original` });
      expect(((await redelivered.json()) as Answer).runs).toEqual(made);
      // Another body is another push.
      const other = await deliver(app, provider, distinctBody(body, "other"), {
        deliveryId: `${provider}-other`,
      });
      expect(((await other.json()) as Answer).runs).not.toEqual(made);
      expect(await runCount()).toBe(before + 1);
      await queued();
    },
  );

  it("costs one conditional write for the body beside the run's spec and head; a replay leaves nothing", async () => {
    const client = dynamoClient();
    const sent = recordRequests(client);
    const counted = await testSystem({ dynamoClient: client });
    await counted.stores.definitions.putPipeline(
      pipeline({ name: "web", triggers: [{ provider: "github", repository: "acme/web-app" }] }),
      new Date().toISOString(),
    );
    const countedApp = createWebhookApp(counted.webhook);
    const body = distinctBody(fixture("github-push"), "costs");
    // Queries are the definition catalog's (its cache is off in tests).
    const writes = () => sent.splice(0).filter((name) => name !== "Query");
    writes();
    expect((await deliver(countedApp, "github", body, { deliveryId: "cost-1" })).status).toBe(202);
    // The body's claim beside the run's spec (written once, never again), then its head.
    expect(writes()).toEqual(["PutItem", "PutItem", "PutItem"]);
    expect((await deliver(countedApp, "github", body, { deliveryId: "cost-2" })).status).toBe(202);
    // The claim, refused, beside the spec of the run it would have made, deleted again.
    expect(writes()).toEqual(["PutItem", "PutItem", "DeleteItem"]);
  });

  it("on a cold start, reads side by side over two connections, then claims beside the spec; the templates only when named", async () => {
    // The product's clients, new (as in a fresh process), through a proxy that counts their connections.
    const proxy = await countingProxy(inject("dynamoEndpoint"));
    const client = new DynamoDBClient({
      endpoint: proxy.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const sqs = sqsClient();
    const { table, stores } = await freshStore();
    const now = new Date().toISOString();
    await stores.definitions.putPipeline(
      pipeline({ name: "web", triggers: [{ provider: "github", repository: "acme/web-app" }] }),
      now,
    );
    await stores.definitions.putJob(jobTemplate({ name: "kaniko-build" }), now);
    const traced = traceRequests(client, sqs);
    const cold = await testSystem({ dynamoClient: client, sqsClient: sqs, env: { HOOKFLOW_TABLE: table } });
    expect(traced).toEqual([]);
    const coldApp = createWebhookApp(cold.webhook);
    const answer = await deliver(coldApp, "github", distinctBody(fixture("github-push"), "cold"), {
      deliveryId: "cold-1",
    });
    expect(answer.status).toBe(202);
    // The pipelines and the enabled repositories; the body's claim beside the run's spec; its head; its message.
    expect(traced.map((r) => r.name)).toEqual([
      "DynamoDB.Query",
      "DynamoDB.Query",
      "DynamoDB.PutItem",
      "DynamoDB.PutItem",
      "DynamoDB.PutItem",
      "SQS.SendMessage",
    ]);
    expect(roundTrips(traced)).toBe(4);
    expect(proxy.connections).toBe(2);

    // A pipeline naming a job template reads the templates once it matched: one more request, on a connection
    // already open (the catalog's cache is off in tests, so every delivery reads).
    await stores.definitions.putPipeline(
      pipeline({
        name: "web",
        triggers: [{ provider: "github", repository: "acme/web-app" }],
        stages: [
          { name: "build", tasks: [{ name: "image", job: "kaniko-build", params: { IMAGE: "web" } }] },
        ],
      }),
      now,
    );
    traced.splice(0);
    const templated = await deliver(coldApp, "github", distinctBody(fixture("github-push"), "cold-job"), {
      deliveryId: "cold-2",
    });
    expect(templated.status).toBe(202);
    expect(traced.map((r) => r.name).slice(0, 3)).toEqual([
      "DynamoDB.Query",
      "DynamoDB.Query",
      "DynamoDB.Query",
    ]);
    expect(traced).toHaveLength(7);
    expect(roundTrips(traced)).toBe(5);
    expect(proxy.connections).toBe(2);
    const [run] = ((await templated.json()) as Answer).runs;
    expect(Object.keys((await cold.stores.runs.getRun(run?.id ?? ""))?.jobs ?? {})).toEqual(["kaniko-build"]);
    client.destroy();
    await proxy.close();
  });

  it("makes runs once when the same body arrives under many ids at the same time", async () => {
    const body = distinctBody(fixture("gitea-push"), "replay-race");
    const before = await runCount();
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => deliver(app, "gitea", body, { deliveryId: `race-${i}` })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(202));
    const bodies = (await Promise.all(answers.map((a) => a.json()))) as Answer[];
    const firsts = bodies.filter((b) => b.replayOf === undefined);
    expect(firsts).toHaveLength(1);
    for (const b of bodies) expect(b.runs).toEqual(firsts[0]?.runs);
    expect(bodies.filter((b) => b.replayOf !== undefined).map((b) => b.replayOf)).toEqual(
      Array(7).fill(firsts[0]?.delivery),
    );
    expect(await runCount()).toBe(before + 1);
    expect(await queued()).toHaveLength(1);
    // The replays left nothing: none of the runs they would have made has an item, not even its spec.
    const pipelineName = firsts[0]?.runs[0]?.pipeline ?? "";
    const refused = bodies
      .filter((b) => b.replayOf !== undefined)
      .map((b) => `RUN#${deliveryRunId("gitea", b.delivery, pipelineName)}`);
    expect(refused).toHaveLength(7);
    const { Items = [] } = await dynamoClient().send(
      new ScanCommand({ TableName: system.config.HOOKFLOW_TABLE, ProjectionExpression: "pk" }),
    );
    expect(Items.filter((item) => refused.includes(item.pk?.S ?? ""))).toEqual([]);
  });
});

describe("bad input changes nothing", () => {
  async function runCount() {
    return (await system.stores.runs.listRuns({ limit: 1000 })).items.length;
  }

  it.each([
    [
      "a wrong signature",
      401,
      () => deliver(app, "github", fixture("github-push"), { deliveryId: "bad-1", secret: "wrong" }),
    ],
    [
      "a missing signature",
      401,
      () =>
        app.request("/webhooks/github", {
          method: "POST",
          headers: { "x-github-event": "push", "x-github-delivery": "bad-2" },
          body: JSON.stringify(fixture("github-push")),
        }),
    ],
    [
      "a wrong GitLab token",
      401,
      () => deliver(app, "gitlab", fixture("gitlab-tag-push"), { deliveryId: "bad-3", secret: "nope" }),
    ],
    [
      "a wrong Gitea signature",
      401,
      () => deliver(app, "gitea", fixture("gitea-push"), { deliveryId: "bad-4", secret: "nope" }),
    ],
    ["malformed JSON", 400, () => deliver(app, "github", "{not json", { deliveryId: "bad-5" })],
    [
      "a payload missing fields",
      400,
      () => deliver(app, "github", { ref: "refs/heads/main" }, { deliveryId: "bad-6" }),
    ],
    ["an unknown provider", 404, () => app.request("/webhooks/bitbucket", { method: "POST", body: "{}" })],
    ["a GET", 405, () => app.request("/webhooks/github")],
    // On its own function URL, the webhook function serves webhooks and nothing else.
    [
      "another function's route",
      404,
      () => app.request("/api/runs", { headers: { authorization: "Bearer x" } }),
    ],
  ])("%s → %i", async (_, status, send) => {
    const before = await runCount();
    const res = await send();
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error.length).toBeGreaterThan(5);
    expect(await runCount()).toBe(before);
  });

  it("names each invalid field", async () => {
    const res = await deliver(app, "github", { ref: "refs/heads/main", after: 42 }, { deliveryId: "bad-7" });
    const body = (await res.json()) as { issues: Array<{ path: string }> };
    expect(body.issues.map((i) => i.path)).toEqual(expect.arrayContaining(["repository", "after"]));
  });

  it("refuses every delivery for a provider whose secret is not set, naming the variable", async () => {
    const bare = createWebhookApp({ ...system.webhook, intake: intakeWith({ secrets: {} }) });
    const res = await deliver(bare, "github", fixture("github-push"), { deliveryId: "bad-8" });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toMatch(/set HOOKFLOW_GITHUB_SECRET/);
  });

  it("answers 413 above 25 MB", async () => {
    const body = JSON.stringify({ ...fixture("github-push"), padding: "x".repeat(25 * 1024 * 1024) });
    const res = await app.request("/webhooks/github", {
      method: "POST",
      headers: {
        "x-github-event": "push",
        "x-github-delivery": "big",
        "x-hub-signature-256": signGithub(body, "gh-secret"),
        "content-length": String(body.length),
      },
      body,
    });
    expect(res.status).toBe(413);
  });
});

/** The webhook's intake with a store, a queue or secrets of the test's choosing. */
function intakeWith(
  parts: Partial<Pick<ConstructorParameters<typeof RunStarter>[0], "store" | "queue">> & {
    secrets?: Partial<typeof SECRETS>;
  },
) {
  const starter = new RunStarter({
    store: parts.store ?? system.stores.deliveries,
    queue: parts.queue ?? system.queue,
    clock: system.clock,
    commitStatus: { enabledFor: () => false },
    log: silentLogger,
  });
  return new DeliveryIntake({
    providers: webhookProviders,
    secrets: parts.secrets ?? SECRETS,
    ingest: new IngestService({
      catalog: system.catalog,
      starter,
      clock: system.clock,
    }),
    log: silentLogger,
  });
}

describe("202 means durable", () => {
  it("answers 5xx when the message cannot be queued, and a redelivery then succeeds with the same runs", async () => {
    const failing = createWebhookApp({
      ...system.webhook,
      log: silentLogger,
      intake: intakeWith({
        queue: { send: async () => Promise.reject(new RetryableError("SQS is unavailable")) },
      }),
    });
    const failed = await deliver(failing, "gitea", distinctBody(fixture("gitea-push"), "durable-1"), {
      deliveryId: "durable-1",
    });
    expect(failed.status).toBe(503);
    const retried = await deliver(app, "gitea", distinctBody(fixture("gitea-push"), "durable-1"), {
      deliveryId: "durable-1",
    });
    expect(retried.status).toBe(202);
    const { runs } = (await retried.json()) as { runs: Array<{ id: string }> };
    expect(runs).toHaveLength(1);
    expect((await queued()).map((m) => m.runId)).toEqual([runs[0]?.id]);
  });

  it.each([
    ["the body's claim", "BODY#"],
    ["the run's spec", "RUN#"],
  ])(
    "answers 5xx when %s fails beside the other write, and the redelivery starts the run once",
    async (_, pk) => {
      const client = dynamoClient();
      const counted = await testSystem({ dynamoClient: client });
      await counted.stores.definitions.putPipeline(
        pipeline({ name: "web", triggers: [{ provider: "github", repository: "acme/web-app" }] }),
        new Date().toISOString(),
      );
      const countedApp = createWebhookApp({ ...counted.webhook, log: silentLogger });
      const failed = interceptOnce(
        client,
        (command, input) =>
          command === "PutItem" &&
          ((input.Item as Record<string, { S?: string }>).pk?.S ?? "").startsWith(pk) &&
          (pk === "BODY#" ||
            (input.Item as Record<string, { S?: string }>).sk?.S?.startsWith("SPEC#") === true),
        UNREACHABLE,
      );
      const body = distinctBody(fixture("github-push"), `beside-${pk}`);
      expect((await deliver(countedApp, "github", body, { deliveryId: `beside-${pk}` })).status).toBe(500);
      expect(failed()).toBe(true);
      expect((await counted.stores.runs.listRuns({ limit: 10 })).items).toEqual([]);

      const redelivered = await deliver(countedApp, "github", body, { deliveryId: `beside-${pk}` });
      expect(redelivered.status).toBe(202);
      const { runs } = (await redelivered.json()) as { runs: Array<{ id: string }> };
      expect(runs).toHaveLength(1);
      expect((await counted.stores.runs.getRun(runs[0]?.id ?? ""))?.pipeline).toBe("web");
      client.destroy();
    },
  );

  it("answers 5xx and stores nothing when the store fails", async () => {
    const failing = createWebhookApp({
      ...system.webhook,
      log: silentLogger,
      intake: intakeWith({
        store: {
          createRuns: () => Promise.reject(new Error("DynamoDB is down")),
          createDeliveredRuns: () => Promise.reject(new Error("DynamoDB is down")),
        },
        queue: system.queue,
      }),
    });
    const res = await deliver(failing, "gitea", distinctBody(fixture("gitea-push"), "durable-2"), {
      deliveryId: "durable-2",
    });
    expect(res.status).toBe(500);
    expect(await queued()).toEqual([]);
  });
});
