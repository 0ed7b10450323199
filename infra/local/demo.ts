/**
 * `npm run demo`: applies examples/hello.yaml to the running local stack, sends it a signed GitHub push, and
 * follows the run to its end (exit 0 when it succeeds).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { signGithub } from "../../core/adapters/git/index.js";
import { systemClock } from "../../core/adapters/system.js";
import { ViewGrants } from "../../core/services/view-grants.js";
import { readSecrets } from "./secrets.js";

const url = (process.env.HOOKFLOW_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8787}`).replace(/\/+$/, "");
const dataDir = process.env.HOOKFLOW_DATA_DIR ?? ".hookflow";
// Read only: secrets made here would not be the ones a stack started later uses.
const secrets = readSecrets(dataDir);
const apiToken = process.env.HOOKFLOW_API_TOKEN || secrets?.apiToken;
const webhookSecret = process.env.HOOKFLOW_GITHUB_SECRET || secrets?.githubSecret;
if (!apiToken || !webhookSecret) {
  console.error(`no local stack's secrets in ${dataDir}: start it with \`npm start\` first`);
  process.exit(1);
}
const auth = { authorization: `Bearer ${apiToken}` };

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(`${url}${path}`, { ...init, headers: { ...auth, ...init.headers } });
  } catch {
    console.error(`cannot reach hookflow at ${url}: start it with \`npm start\` first`);
    process.exit(1);
  }
}

const pipeline = readFileSync(join(import.meta.dirname, "..", "..", "examples", "hello.yaml"), "utf8");
const applied = await call("/api/pipelines/hello", {
  method: "PUT",
  headers: { "content-type": "application/yaml" },
  body: pipeline,
});
if (!applied.ok) {
  console.error(`applying examples/hello.yaml failed: ${applied.status} ${await applied.text()}`);
  process.exit(1);
}
console.log("applied pipeline hello (examples/hello.yaml)");

const commit = randomBytes(20).toString("hex");
const push = JSON.stringify({
  ref: "refs/heads/main",
  before: `${"0".repeat(39)}1`,
  after: commit,
  deleted: false,
  repository: {
    full_name: "hookflow/demo",
    name: "demo",
    clone_url: "https://github.com/hookflow/demo.git",
    owner: { login: "hookflow" },
  },
  pusher: { name: "demo", email: "demo@example.com" },
  head_commit: {
    id: commit,
    message: "Try hookflow",
    timestamp: new Date().toISOString(),
    author: { name: "Demo", email: "demo@example.com", username: "demo" },
    added: ["README.md"],
    modified: [],
    removed: [],
  },
  commits: [
    {
      id: commit,
      message: "Try hookflow",
      timestamp: new Date().toISOString(),
      author: { name: "Demo", email: "demo@example.com", username: "demo" },
      added: ["README.md"],
      modified: [],
      removed: [],
    },
  ],
});
const delivered = await fetch(`${url}/webhooks/github`, {
  method: "POST",
  headers: {
    "content-type": "application/json",
    "x-github-event": "push",
    "x-github-delivery": randomUUID(),
    "x-hub-signature-256": signGithub(push, webhookSecret),
  },
  body: push,
});
const answer = (await delivered.json()) as { runs?: Array<{ id: string }>; error?: string; ignored?: string };
const runId = answer.runs?.[0]?.id;
if (delivered.status !== 202 || !runId) {
  console.error(`the push was not accepted: ${delivered.status} ${JSON.stringify(answer)}`);
  process.exit(1);
}
console.log(`signed push accepted (202): run ${runId}`);
// The same link its notifications carry: a grant to view this run for a week, signed with the stack's secret.
const tokenSecret = process.env.HOOKFLOW_TOKEN_SECRET || secrets?.tokenSecret;
const page = tokenSecret
  ? new ViewGrants(tokenSecret, systemClock, 7).link(url, runId)
  : `${url}/runs/${runId}`;
console.log(`run page: ${page}\n`);

interface Task {
  name: string;
  status: string;
  attempt: number;
  message?: string;
  outputs: Record<string, string>;
}
interface Run {
  status: string;
  message?: string;
  stages: Array<{ name: string; status: string; tasks: Task[] }>;
}
let last = "";
for (;;) {
  const run = (await (await call(`/api/runs/${runId}`)).json()) as Run;
  const lines = run.stages.flatMap((s) => [
    `${s.name} [${s.status}]`,
    ...s.tasks.map(
      (t) =>
        `  ${t.name.padEnd(10)} ${t.status.padEnd(9)}${Object.keys(t.outputs).length ? ` outputs ${JSON.stringify(t.outputs)}` : ""}${t.message ? ` ${t.message}` : ""}`,
    ),
  ]);
  const view = `run ${runId}: ${run.status}${run.message ? ` (${run.message})` : ""}\n${lines.join("\n")}\n`;
  if (view !== last) console.log(view);
  last = view;
  if (["succeeded", "failed", "canceled"].includes(run.status))
    process.exit(run.status === "succeeded" ? 0 : 1);
  await new Promise((r) => setTimeout(r, 500));
}
