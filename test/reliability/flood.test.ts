import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signGithub } from "../../core/adapters/git/index.js";
import { deliveryRunId } from "../../core/engine/index.js";
import { parseWorkMessage } from "../../core/services/batch.js";
import { createWebhookApp } from "../../functions/webhook.js";
import { pipeline } from "../helpers/factories.js";
import { SECRETS, testSystem } from "../helpers/system.js";
import { fixture } from "../helpers/webhooks.js";

type Kind = "valid" | "duplicate" | "bad-signature" | "malformed";

/** 1,000 deliveries at once: 70% new, 20% repeats of those, 5% with a wrong signature, 5% malformed. */
function plan(total: number): Array<{ kind: Kind; delivery: string; body: string; signature: string }> {
  const push = fixture("github-push");
  const valid = Array.from({ length: Math.round(total * 0.7) }, (_, i) => {
    const body = JSON.stringify({ ...push, after: randomBytes(20).toString("hex") });
    return {
      kind: "valid" as Kind,
      delivery: `flood-${i}`,
      body,
      signature: signGithub(body, SECRETS.github),
    };
  });
  const duplicates = Array.from({ length: Math.round(total * 0.2) }, (_, i) => ({
    ...(valid[i % valid.length] as (typeof valid)[number]),
    kind: "duplicate" as Kind,
  }));
  const forged = Array.from({ length: Math.round(total * 0.05) }, (_, i) => {
    const body = JSON.stringify({ ...push, after: randomBytes(20).toString("hex") });
    return {
      kind: "bad-signature" as Kind,
      delivery: `forged-${i}`,
      body,
      signature: signGithub(body, "not-the-secret"),
    };
  });
  const malformed = Array.from(
    { length: total - valid.length - duplicates.length - forged.length },
    (_, i) => {
      const body =
        i % 2
          ? `{"ref": "refs/heads/main", "after": ${i}`
          : JSON.stringify({ ref: "refs/heads/main", after: "zz" });
      return {
        kind: "malformed" as Kind,
        delivery: `bad-${i}`,
        body,
        signature: signGithub(body, SECRETS.github),
      };
    },
  );
  const all = [...valid, ...duplicates, ...forged, ...malformed];
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [all[i], all[j]] = [all[j] as (typeof all)[number], all[i] as (typeof all)[number]];
  }
  return all;
}

describe("a flood of deliveries", () => {
  it("creates exactly one run per unique valid delivery, answers every bad one correctly, and loses nothing", async () => {
    const system = await testSystem();
    await system.stores.definitions.putPipeline(
      pipeline({ name: "flooded", triggers: [{ provider: "github", repository: "acme/web-app" }] }),
      new Date().toISOString(),
    );
    const app = createWebhookApp(system.webhook);
    const deliveries = plan(1000);

    const answers = await Promise.all(
      deliveries.map(async (d) => {
        const res = await app.request("/webhooks/github", {
          method: "POST",
          headers: {
            "x-github-event": "push",
            "x-github-delivery": d.delivery,
            "x-hub-signature-256": d.signature,
            "content-type": "application/json",
          },
          body: d.body,
        });
        return {
          ...d,
          status: res.status,
          body: (await res.json()) as { runs?: Array<{ id: string }>; error?: string },
        };
      }),
    );

    const expected: Record<Kind, number> = {
      valid: 202,
      duplicate: 202,
      "bad-signature": 401,
      malformed: 400,
    };
    const wrong = answers.filter((a) => a.status !== expected[a.kind]);
    expect(wrong.map((a) => `${a.kind} ${a.delivery}: ${a.status} ${JSON.stringify(a.body)}`)).toEqual([]);
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);

    const unique = new Set(answers.filter((a) => a.kind === "valid").map((a) => a.delivery));
    const stored = await system.stores.runs.listRuns({ pipeline: "flooded", limit: 2000 });
    expect(stored.items).toHaveLength(unique.size);
    expect(new Set(stored.items.map((r) => r.id))).toEqual(
      new Set([...unique].map((d) => deliveryRunId("github", d, "flooded"))),
    );
    // Every accepted delivery answered with its run, repeats with the same one.
    for (const a of answers.filter((x) => x.status === 202))
      expect(a.body.runs?.[0]?.id).toBe(deliveryRunId("github", a.delivery, "flooded"));

    // Nothing lost: every run has its first message on the queue.
    const queued = new Set<string>();
    for (let empty = 0; empty < 3; ) {
      const messages = await system.queues.queue.receive({ waitSeconds: 0, max: 10 });
      if (messages.length === 0) empty++;
      for (const m of messages) {
        queued.add(parseWorkMessage(m.Body ?? "").runId);
        await system.queues.queue.delete(m.ReceiptHandle ?? "");
      }
    }
    expect(queued).toEqual(new Set(stored.items.map((r) => r.id)));
  }, 120_000);
});
