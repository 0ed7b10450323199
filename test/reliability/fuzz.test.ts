import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { signGitea, signGithub } from "../../core/adapters/git/index.js";
import { TaskTokens } from "../../core/services/tokens.js";
import { createApiApp } from "../../functions/api.js";
import { createCallbackApp } from "../../functions/callback.js";
import { createWebhookApp } from "../../functions/webhook.js";
import { mutatedPipeline } from "../helpers/arbitraries.js";
import { newRun, pipeline, runTask } from "../helpers/factories.js";
import { SECRETS, TEST_TOKEN_SECRET, testSystem } from "../helpers/system.js";
import { fixture } from "../helpers/webhooks.js";

type System = Awaited<ReturnType<typeof testSystem>>;
let system: System;
beforeAll(async () => {
  system = await testSystem();
  await system.stores.definitions.putPipeline(
    pipeline({ name: "fuzzed", triggers: [{ provider: "github", repository: "acme/web-app" }] }),
    new Date().toISOString(),
  );
  await system.stores.runs.saveRun(
    newRun({ id: "fuzz", pipeline: pipeline({ stages: [{ name: "s", tasks: [runTask("t")] }] }) }),
  );
  await system.recorder.record("fuzz", [{ type: "run.created" }]);
});

/** A 4xx with a message; never a crash, never a 5xx. */
async function expectClientError(res: Response, allowed: number[] = []) {
  if (allowed.includes(res.status)) return;
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  const body = (await res.json()) as { error?: unknown };
  expect(typeof body.error).toBe("string");
}

describe("fuzzing", () => {
  it("PUT /api/pipelines: never a 5xx", async () => {
    const api = createApiApp(system.api);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.json(),
          mutatedPipeline.map((p) => JSON.stringify(p)),
        ),
        async (body) => {
          const res = await api.request("/api/pipelines/p", {
            method: "PUT",
            headers: { authorization: "Bearer test-api-token" },
            body: String(body),
          });
          await expectClientError(res, [200, 201]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("the webhook normalisers, through HTTP, with correctly signed bodies: never a 5xx", async () => {
    const app = createWebhookApp(system.webhook);
    const push = fixture("github-push");
    const mutatedPush = fc
      .tuple(fc.constantFrom(...Object.keys(push)), fc.anything())
      .map(([key, value]) => JSON.stringify({ ...push, [key]: value }));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string(), fc.json(), mutatedPush),
        fc.constantFrom("github", "gitea", "gitlab"),
        fc.constantFrom("push", "ping", "create", "Push Hook", "Tag Push Hook", ""),
        fc.string({ maxLength: 40 }),
        async (body, provider, event, delivery) => {
          const headers: Record<string, string> = { "content-type": "application/json" };
          if (provider === "github")
            Object.assign(headers, {
              "x-github-event": event,
              "x-github-delivery": delivery,
              "x-hub-signature-256": signGithub(body, SECRETS.github),
            });
          if (provider === "gitea")
            Object.assign(headers, {
              "x-gitea-event": event,
              "x-gitea-delivery": delivery,
              "x-gitea-signature": signGitea(body, SECRETS.gitea),
            });
          if (provider === "gitlab")
            Object.assign(headers, {
              "x-gitlab-event": event,
              "x-gitlab-event-uuid": delivery,
              "x-gitlab-token": SECRETS.gitlab,
            });
          const res = await app.request(`/webhooks/${provider}`, { method: "POST", headers, body });
          await expectClientError(res, [200, 202]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("the callback body: never a 5xx", async () => {
    const app = createCallbackApp(system.callback);
    const token = new TaskTokens(TEST_TOKEN_SECRET).tokenFor({ runId: "fuzz", task: "t", attempt: 1 });
    const shaped = fc.record(
      {
        status: fc.oneof(fc.constantFrom("running", "succeeded", "failed"), fc.anything()),
        message: fc.anything(),
        outputs: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.anything()),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.json(),
          shaped.map((b) => JSON.stringify(b)),
        ),
        async (body) => {
          const res = await app.request("/callbacks/tasks/fuzz.t.1", {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: String(body),
          });
          await expectClientError(res, [200]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
