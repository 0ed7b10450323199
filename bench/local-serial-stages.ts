/**
 * local-serial-stages: the local stack (`npm start`, started in this process on a data directory of its own,
 * local process runner), a pipeline of four serial stages of one instant task each (`true`, which never calls
 * back), and the time from a signed GitHub push to the run's end as the API shows it. Runs one after another.
 * Without follow-up observations each stage waits for the reconciler's tick (every 3 s locally).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signGithub } from "../core/adapters/git/index.js";
import { silentLogger } from "../core/adapters/system.js";
import { freePort } from "../infra/local/emulators.js";
import { startStack } from "../infra/local/stack.js";
import { percentile } from "./common.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const STAGES = 4;
const SECRET = "bench-github-secret";

const pipeline = {
  name: "serial",
  triggers: [{ provider: "github", repository: "acme/serial", events: ["push"] }],
  stages: Array.from({ length: STAGES }, (_, i) => ({
    name: `stage-${i + 1}`,
    tasks: [{ name: `step-${i + 1}`, run: { image: "alpine", command: ["true"] } }],
  })),
};

function push(): string {
  const commit = randomBytes(20).toString("hex");
  const change = {
    id: commit,
    message: "m",
    timestamp: new Date().toISOString(),
    author: { name: "a", email: "a@example.com", username: "a" },
    added: [],
    modified: ["README.md"],
    removed: [],
  };
  return JSON.stringify({
    ref: "refs/heads/main",
    before: `${"0".repeat(39)}1`,
    after: commit,
    deleted: false,
    repository: {
      full_name: "acme/serial",
      name: "serial",
      clone_url: "https://github.com/acme/serial.git",
      owner: { login: "acme" },
    },
    pusher: { name: "a", email: "a@example.com" },
    head_commit: change,
    commits: [change],
  });
}

const dataDir = mkdtempSync(join(tmpdir(), "hookflow-serial-"));
const stack = await startStack({
  env: {
    PATH: process.env.PATH,
    HOOKFLOW_DATA_DIR: dataDir,
    HOOKFLOW_GITHUB_SECRET: SECRET,
    PORT: String(await freePort()),
  },
  log: silentLogger,
});
try {
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${stack.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${stack.apiToken}`, ...init.headers },
    });
  const applied = await api("/api/pipelines/serial", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(pipeline),
  });
  if (!applied.ok) throw new Error(`apply: ${applied.status} ${await applied.text()}`);

  const durations: number[] = [];
  let timeline = "";
  for (let i = 0; i < RUNS; i++) {
    const body = push();
    const started = performance.now();
    const res = await fetch(`${stack.url}/webhooks/github`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": signGithub(body, SECRET),
      },
      body,
    });
    const runId = ((await res.json()) as { runs?: Array<{ id: string }> }).runs?.[0]?.id;
    if (res.status !== 202 || !runId) throw new Error(`push: ${res.status}`);
    for (;;) {
      const run = (await (await api(`/api/runs/${runId}`)).json()) as {
        status: string;
        createdAt: string;
        stages: Array<{ tasks: Array<{ name: string; queuedAt?: string; finishedAt?: string }> }>;
      };
      if (run.status === "succeeded") {
        const at = (iso?: string) => ((Date.parse(iso ?? "") - Date.parse(run.createdAt)) / 1000).toFixed(2);
        timeline = run.stages
          .flatMap((st) => st.tasks.map((t) => `${t.name} ${at(t.queuedAt)}→${at(t.finishedAt)}`))
          .join(", ");
        break;
      }
      if (run.status === "failed" || run.status === "canceled") throw new Error(`run ${runId} ${run.status}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    durations.push(performance.now() - started);
  }
  durations.sort((a, b) => a - b);
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(
    `local-serial-stages: ${RUNS} runs of ${STAGES} serial stages of one instant task (no callback), local stack, one after another`,
  );
  console.log(
    `push to finish: p50 ${s(percentile(durations, 50))}, max ${s(durations.at(-1) ?? 0)} (each: ${durations.map(s).join(", ")})`,
  );
  console.log(`the last run, seconds after it was created (queued→seen to end): ${timeline}`);
  console.log(`local-serial-stages ratio: ${(percentile(durations, 50) / 4000).toFixed(2)} (against 4 s)`);
} finally {
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
