import { join } from "node:path";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it, onTestFinished } from "vitest";
import { createClusterAccess, SCHEDULER_RIGHTS } from "../../core/adapters/kubernetes/access.js";
import type { CliIo } from "../../core/cli/context.js";
import { runCli } from "../../core/cli/program.js";
import { HOOKFLOW_VERSION } from "../../core/version.js";
import { createApiApp } from "../../functions/api.js";
import { readManifests, startFakeKubernetes } from "../fake-kubernetes/index.js";
import { MemoryRunner } from "../helpers/memory-runner.js";
import { testSystem } from "../helpers/system.js";

const INFRA = join(import.meta.dirname, "..", "..", "infra", "kubernetes");
const NAMESPACE = "hookflow";
const SCHEDULER_TOKEN = "scheduler-token-doctor";
const ADMIN = "test-api-token";
// biome-ignore lint/suspicious/noExplicitAny: manifests are read and edited field by field.
type Manifest = any;

const shipped = (): Manifest[] => readManifests(INFRA);

/** The shipped scheduler Role without `verb` on `resource` (as an operator's older or hand-made Role might be). */
function without(resource: string, verb: string): Manifest[] {
  return shipped().map((object) =>
    object.kind === "Role" && object.metadata.name === "hookflow-scheduler"
      ? {
          ...object,
          rules: object.rules.map((rule: Manifest) =>
            rule.resources.includes(resource)
              ? { ...rule, verbs: rule.verbs.filter((v: string) => v !== verb) }
              : rule,
          ),
        }
      : object,
  );
}

/** The fake API server authorizing from `objects`; the scheduler's kubeconfig for it. */
async function cluster(objects: Manifest[] = shipped()) {
  const fake = await startFakeKubernetes({
    startDelayMs: "manual",
    authorization: { objects, serviceAccounts: { [SCHEDULER_TOKEN]: `${NAMESPACE}/hookflow-scheduler` } },
  });
  onTestFinished(() => fake.close());
  return { fake, kubeconfig: fake.kubeconfigWith(SCHEDULER_TOKEN) };
}

/** hookflow's API as deployed against that cluster (the scheduler's kubeconfig), and the CLI pointed at it. */
async function deployment(kubeconfig: string, env: Record<string, string> = {}) {
  const system = await testSystem({
    runner: new MemoryRunner(),
    env: { HOOKFLOW_KUBECONFIG: kubeconfig, HOOKFLOW_NAMESPACE: NAMESPACE, ...env },
  });
  const app = createApiApp(system.api);
  const doctor = async (token = ADMIN) => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const io: CliIo = {
      stdout: { write: (t: string) => stdout.push(t) },
      stderr: { write: (t: string) => stderr.push(t) },
      env: {
        HOOKFLOW_URL: "http://hookflow.test",
        HOOKFLOW_API_TOKEN: token,
        HOOKFLOW_CONFIG_DIR: "/nonexistent",
      },
      cwd: "/nonexistent",
      fetch: ((input: string | URL | Request, init?: RequestInit) =>
        app.fetch(new Request(input, init))) as typeof fetch,
      sleep: async () => {},
      now: () => Date.now(),
      userName: () => undefined,
    };
    const code = await runCli(["doctor"], io);
    return { code, stdout: stdout.join(""), stderr: stderr.join("") };
  };
  return { system, app, doctor };
}

describe("the Kubernetes rights hookflow needs", () => {
  it("are exactly the shipped Role's rules", () => {
    const role = shipped().find((o) => o.kind === "Role" && o.metadata.name === "hookflow-scheduler");
    const granted = role.rules.flatMap((rule: Manifest) =>
      rule.apiGroups.flatMap((group: string) =>
        rule.resources.flatMap((resource: string) =>
          rule.verbs.map((verb: string) => `${verb} ${group}/${resource}`),
        ),
      ),
    );
    const needed = SCHEDULER_RIGHTS.map(
      (r) => `${r.verb} ${r.group}/${r.resource}${r.subresource ? `/${r.subresource}` : ""}`,
    );
    expect(needed.sort()).toEqual(granted.sort());
  });

  it.each(["built-in", "client-node"] as const)(
    "are asked of the cluster with SelfSubjectAccessReview, which answers from the bound Roles (%s client)",
    async (client) => {
      const { fake, kubeconfig } = await cluster(without("pods/log", "get"));
      const reviewed = await (
        await createClusterAccess({ kubeconfig, namespace: NAMESPACE, client })
      ).review();
      expect(
        reviewed.filter((r) => !r.allowed).map((r) => `${r.verb} ${r.resource}/${r.subresource}`),
      ).toEqual(["get pods/log"]);
      expect(reviewed.filter((r) => r.allowed)).toHaveLength(SCHEDULER_RIGHTS.length - 1);
      expect(fake.requestsTo("POST", "/selfsubjectaccessreviews")).toHaveLength(SCHEDULER_RIGHTS.length);
      // In another namespace nothing is granted.
      const elsewhere = await (
        await createClusterAccess({ kubeconfig, namespace: "default", client })
      ).review();
      expect(elsewhere.every((r) => !r.allowed)).toBe(true);
    },
  );
});

describe("hookflow doctor", () => {
  it("passes a healthy deployment, saying the version and what it checked", async () => {
    const { kubeconfig } = await cluster();
    const { doctor } = await deployment(kubeconfig);
    const result = await doctor();
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`✓ api: reachable at http://hookflow.test, version ${HOOKFLOW_VERSION}`);
    expect(lines).toContain("✓ webhook secrets: set for github, gitlab, gitea");
    expect(lines).toContain(
      `✓ kubernetes: all ${SCHEDULER_RIGHTS.length} rights hookflow needs in namespace hookflow`,
    );
    expect(lines).toContain("✓ queue: 0 waiting, 0 being handled; no dead letters");
    expect(lines).toContain("✓ log archive: the log bucket can be reached");
    // No sign-in is configured here: a warning with what to set, which does not fail the deployment.
    expect(lines.find((l) => l.startsWith("! sign-in:"))).toBeDefined();
  });

  it("fails on a missing right, dead letters, a missing webhook secret and an unreachable bucket, saying what to fix", async () => {
    const { kubeconfig } = await cluster(without("jobs", "delete"));
    const { system, doctor } = await deployment(kubeconfig, {
      HOOKFLOW_GITHUB_SECRET: "",
      HOOKFLOW_GITLAB_TOKEN: "",
      HOOKFLOW_GITEA_SECRET: "",
      HOOKFLOW_LOG_BUCKET: "no-such-bucket-for-doctor",
    });
    await system.queues.client.send(
      new SendMessageCommand({
        QueueUrl: system.queues.deadUrl,
        MessageBody: '{"runId":"r1","event":{"type":"reconcile"}}',
        MessageGroupId: "r1",
        MessageDeduplicationId: "dead-1",
      }),
    );
    const result = await doctor();
    expect(result.code).toBe(1);
    const text = result.stdout;
    expect(text).toContain(
      "✗ kubernetes: missing in namespace hookflow: delete jobs (batch), to cancel a task",
    );
    expect(text).toContain("fix: grant them to hookflow's identity in its Role in hookflow");
    expect(text).toContain("✗ queue: 0 waiting, 0 being handled; 1 message in the dead-letter queue");
    expect(text).toContain("Replaying dead letters");
    expect(text).toContain("✗ webhook secrets: no webhook secret is set");
    expect(text).toContain(
      "✗ log archive: cannot be checked: bucket no-such-bucket-for-doctor cannot be reached",
    );
    expect(text).toContain("fix: check HOOKFLOW_LOG_BUCKET");
  });

  it("says the API cannot be reached, and that its checks are an admin's", async () => {
    const { kubeconfig } = await cluster();
    const { app, doctor } = await deployment(kubeconfig);
    const refused = await doctor("wrong-token");
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("✗ checks from inside: the API refused the token");
    expect((await app.request("/api/doctor")).status).toBe(401);

    const stdout: string[] = [];
    const code = await runCli(["doctor", "--json"], {
      stdout: { write: (t: string) => stdout.push(t) },
      stderr: { write: () => true },
      env: {
        HOOKFLOW_URL: "http://127.0.0.1:9",
        HOOKFLOW_API_TOKEN: ADMIN,
        HOOKFLOW_CONFIG_DIR: "/nonexistent",
      },
      cwd: "/nonexistent",
      fetch,
      sleep: async () => {},
      now: () => Date.now(),
      userName: () => undefined,
    });
    expect(code).toBe(1);
    const answer = JSON.parse(stdout.join("")) as {
      findings: Array<{ check: string; status: string; fix: string }>;
    };
    expect(answer.findings).toEqual([
      expect.objectContaining({ check: "api", status: "fail", fix: expect.stringContaining("HOOKFLOW_URL") }),
    ]);
  });

  it("is refused to anyone but an admin", async () => {
    const { kubeconfig } = await cluster();
    const { app } = await deployment(kubeconfig, { HOOKFLOW_ROLES: JSON.stringify({ viewer: ["carol"] }) });
    const made = await app.request("/api/tokens", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "carol", for: "carol" }),
    });
    const { token } = (await made.json()) as { token: string };
    const answer = await app.request("/api/doctor", { headers: { authorization: `Bearer ${token}` } });
    expect(answer.status).toBe(403);
    expect(((await answer.json()) as { error: string }).error).toContain("admin");
  });
});
