import { describe, expect, it } from "vitest";
import {
  MASK,
  pipelineMatches,
  renderTask,
  runView,
  transition,
  whenMatches,
} from "../../core/engine/index.js";
import type { JobTemplate, Run, TaskLaunch } from "../../core/model/index.js";
import { parseJobTemplate } from "../../core/model/parse.js";
import {
  jobTemplate,
  newRun,
  pipeline,
  play,
  runTask,
  started,
  succeed,
  T0,
  taskState,
  trigger,
} from "../helpers/factories.js";

function launchOf(run: Run, task: string): TaskLaunch {
  const state = taskState(run, task);
  const rendered = renderTask(run, task, state.attempt, state.jobName ?? "job");
  if (!rendered.ok) throw new Error(rendered.message);
  return rendered.launch;
}

const kaniko = jobTemplate();
const buildPipeline = (params: Record<string, string> = {}, taskParams: Record<string, string> = {}) =>
  pipeline({
    params,
    stages: [
      { name: "prep", tasks: [runTask("prep")] },
      { name: "build", tasks: [{ name: "image", job: "kaniko-build", params: taskParams }] },
    ],
  });

describe("params", () => {
  it("merge with the contract's precedence: job defaults < task < pipeline < run < system; outputs take no declared name", () => {
    const p = buildPipeline(
      { IMAGE: "from-pipeline", LAYER: "pipeline", GIT_BRANCH: "spoofed" },
      { IMAGE: "from-task", DOCKERFILE: "task.Dockerfile", LAYER: "task", OUT: "task" },
    );
    const base = newRun({
      pipeline: p,
      jobs: { "kaniko-build": kaniko },
      params: { LAYER: "run", OUT: "run" },
    });
    let { run } = play(base, [started()]);
    ({ run } = play(run, succeed(run, "prep", "OUT=output\nFREE=output\nlower=not-a-variable")));
    const { env } = launchOf(run, "image");
    expect(env).toMatchObject({
      DOCKERFILE: "task.Dockerfile",
      IMAGE: "from-pipeline",
      LAYER: "run",
      OUT: "run",
      FREE: "output",
      GIT_BRANCH: "main",
      HOOKFLOW_TASK: "image",
      HOOKFLOW_RUN_ID: "r1",
    });
    expect(env).not.toHaveProperty("lower");
  });

  it("fails a task before submission when a required param is missing", () => {
    const { run, effects } = play(newRun({ pipeline: buildPipeline(), jobs: { "kaniko-build": kaniko } }), [
      started(),
    ]);
    const done = play(run, succeed(run, "prep"));
    expect(taskState(done.run, "image")).toMatchObject({
      status: "failed",
      reason: "MissingVariable",
      attempt: 0,
      message: 'required param IMAGE of job "kaniko-build" is not set',
    });
    expect(
      [...effects, ...done.effects].some((e) => e.type === "submitTask" && e.launch.task === "image"),
    ).toBe(false);
  });

  it("refuses a value outside a param's enum", () => {
    const job = jobTemplate({ params: [{ name: "ENV", enum: ["dev", "prod"] }] });
    const p = pipeline({
      stages: [{ name: "s", tasks: [{ name: "t", job: "kaniko-build", params: { ENV: "qa" } }] }],
    });
    const { run } = play(newRun({ pipeline: p, jobs: { "kaniko-build": job } }), [started()]);
    expect(taskState(run, "t")).toMatchObject({ status: "failed", reason: "InvalidSpec" });
  });

  it("resolves references inside param values, once", () => {
    const p = buildPipeline({ IMAGE: "registry/${GIT_REPOSITORY}", TAG: "${IMAGE}:${APP_VERSION}" });
    const { run } = play(newRun({ pipeline: p, jobs: { "kaniko-build": kaniko } }), [started()]);
    const { env } = launchOf(play(run, succeed(run, "prep")).run, "image");
    expect(env.IMAGE).toBe("registry/acme/web-app");
    expect(env.TAG).toBe("registry/${GIT_REPOSITORY}:20261123-main-01234567");
  });

  it("puts sensitive params in secretEnv only, and masks them in every view", () => {
    const p = buildPipeline({ IMAGE: "registry/web" });
    const base = newRun({
      pipeline: p,
      jobs: { "kaniko-build": kaniko },
      params: { REGISTRY_PASSWORD: "s3cr3t-value" },
    });
    let { run } = play(base, [started()]);
    ({ run } = play(run, succeed(run, "prep")));
    const launch = launchOf(run, "image");
    expect(launch.secretEnv).toEqual({ REGISTRY_PASSWORD: "s3cr3t-value" });
    expect(JSON.stringify({ ...launch, secretEnv: {} })).not.toContain("s3cr3t-value");
    ({ run } = play(run, [
      { type: "task.failed", task: "image", attempt: 1, message: "login failed with s3cr3t-value" },
    ]));
    const view = JSON.stringify(runView(run));
    expect(view).not.toContain("s3cr3t-value");
    expect(runView(run).params.REGISTRY_PASSWORD).toBe(MASK);
    expect(view).toContain(`login failed with ${MASK}`);
  });

  it("refuses to write a sensitive param into a template, at apply and (for a stored one) at submission", async () => {
    const input = {
      ...kaniko,
      params: [{ name: "TOKEN", sensitive: true, default: "tok-123" }],
      template: { ...kaniko.template, metadata: { annotations: { leaked: "${TOKEN}" } } },
    };
    expect(await parseJobTemplate(input)).toMatchObject({
      ok: false,
      issues: [
        {
          path: "template.metadata.annotations.leaked",
          message: expect.stringMatching(/^sensitive param TOKEN/),
        },
      ],
    });
    const job = {
      ...input,
      params: [{ ...input.params[0], required: false, sensitive: true }],
    } as JobTemplate;
    const p = pipeline({ stages: [{ name: "s", tasks: [{ name: "t", job: "kaniko-build" }] }] });
    const { run } = play(newRun({ pipeline: p, jobs: { "kaniko-build": job } }), [started()]);
    expect(taskState(run, "t")).toMatchObject({ status: "failed", reason: "InvalidSpec" });
    expect(taskState(run, "t").message).toMatch(/sensitive param TOKEN .* metadata\.annotations\.leaked/);
  });
});

describe("untrusted values", () => {
  const evil = "x$(touch /tmp/pwned)`id`\nkind: Secret";
  const evilTrigger = trigger({
    branch: evil,
    ref: `refs/heads/${evil}`,
    message: "`rm -rf /`",
    author: "$(whoami)",
  });

  it("reach a template's command and args only through env, and never change its structure", () => {
    const p = pipeline({
      stages: [{ name: "s", tasks: [{ name: "t", job: "kaniko-build", params: { IMAGE: "reg/web" } }] }],
    });
    const { run } = play(newRun({ pipeline: p, jobs: { "kaniko-build": kaniko }, trigger: evilTrigger }), [
      started(),
    ]);
    const launch = launchOf(run, "t");
    if (launch.source.kind !== "job") throw new Error("expected a job");
    const container = (
      launch.source.manifest as { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } }
    ).spec.template.spec.containers[0];
    expect(container?.args).toEqual([
      "--dockerfile=Dockerfile",
      "--destination=reg/web:20261123-x-touch-tmp-pwned-id-kind-Secret-01234567",
      "--label=${GIT_BRANCH}",
    ]);
    expect(launch.env.GIT_BRANCH).toBe(evil);
    expect(Object.keys(launch.source.manifest)).toEqual(Object.keys(kaniko.template));
  });

  it("are substituted as plain string values elsewhere in a manifest", () => {
    const job = jobTemplate({
      params: [],
      template: { ...kaniko.template, metadata: { annotations: { branch: "${GIT_BRANCH}" } } },
    });
    const p = pipeline({ stages: [{ name: "s", tasks: [{ name: "t", job: "kaniko-build" }] }] });
    const { run } = play(newRun({ pipeline: p, jobs: { "kaniko-build": job }, trigger: evilTrigger }), [
      started(),
    ]);
    const launch = launchOf(run, "t");
    expect(launch.source.kind === "job" && launch.source.manifest.metadata).toEqual({
      annotations: { branch: evil },
    });
  });

  it("never enter a `run` command", () => {
    const p = pipeline({
      stages: [
        {
          name: "s",
          tasks: [
            runTask("t", {
              run: { image: "alpine", command: ["sh", "-c", 'echo "$GIT_BRANCH" ${GIT_COMMIT_MESSAGE}'] },
            }),
          ],
        },
      ],
    });
    const { run } = play(newRun({ pipeline: p, trigger: evilTrigger }), [started()]);
    const launch = launchOf(run, "t");
    expect(launch.source).toMatchObject({
      kind: "run",
      command: ["sh", "-c", 'echo "$GIT_BRANCH" ${GIT_COMMIT_MESSAGE}'],
    });
    expect(launch.env.GIT_COMMIT_MESSAGE).toBe("`rm -rf /`");
  });

  it("taint the params built from them", () => {
    const job = jobTemplate({
      params: [{ name: "LABEL" }],
      template: {
        ...kaniko.template,
        spec: {
          template: { spec: { containers: [{ name: "c", image: "i", command: ["echo", "${LABEL}"] }] } },
        },
      },
    });
    const p = pipeline({
      params: { LABEL: "branch-${GIT_BRANCH}" },
      stages: [{ name: "s", tasks: [{ name: "t", job: "kaniko-build" }] }],
    });
    const { run } = play(newRun({ pipeline: p, jobs: { "kaniko-build": job }, trigger: evilTrigger }), [
      started(),
    ]);
    const launch = launchOf(run, "t");
    expect(JSON.stringify(launch.source)).not.toContain("pwned");
    expect(launch.env.LABEL).toBe(`branch-${evil}`);
  });
});

describe("outputs", () => {
  it("from KEY=VALUE lines and objects become variables of later tasks only", () => {
    let { run } = play(newRun(), [started()]);
    ({ run } = play(run, [
      { type: "task.outputs", task: "unit", attempt: 1, outputs: { COVERAGE: "91" } },
      ...succeed(run, "unit", "# a comment\nDIGEST=sha256:1\nnot a pair\nURL=http://x/?a=b"),
      ...succeed(run, "lint"),
    ]));
    expect(taskState(run, "unit")).toMatchObject({
      status: "succeeded",
      outputs: { COVERAGE: "91", DIGEST: "sha256:1", URL: "http://x/?a=b" },
    });
    expect(launchOf(run, "types").env).not.toHaveProperty("DIGEST");
    ({ run } = play(run, succeed(run, "types")));
    expect(launchOf(run, "image").env).toMatchObject({ DIGEST: "sha256:1", COVERAGE: "91" });
  });

  it("over 4 KB fail the task with a clear message and cancel its Job", () => {
    const { run } = play(newRun(), [started()]);
    const result = transition(
      run,
      { type: "task.outputs", task: "unit", attempt: 1, outputs: { BIG: "x".repeat(5000) } },
      T0,
    );
    expect(taskState(result.run, "unit")).toMatchObject({
      status: "failed",
      reason: "OutputsTooLarge",
      outputs: {},
    });
    expect(taskState(result.run, "unit").message).toMatch(
      /outputs are 5003 bytes; a task may report at most 4096/,
    );
    expect(result.effects).toContainEqual(expect.objectContaining({ type: "cancelTask", task: "unit" }));
  });
});

describe("trigger matching", () => {
  const p = pipeline({
    triggers: [
      { provider: "github", repository: "acme/web-app", branches: ["main", "release/*"], paths: ["src/**"] },
      { provider: "github", repository: "acme/web-app", events: ["tag"], tags: ["v*"] },
    ],
  });
  it.each([
    [{}, false],
    [{ changedFiles: ["src/app.ts"] }, true],
    [{ changedFiles: ["docs/readme.md"] }, false],
    [{ branch: "release/1.0", changedFiles: ["src/a/b.ts"] }, true],
    [{ branch: "release/1.0/x", changedFiles: ["src/a.ts"] }, false],
    [{ branch: "dev", changedFiles: ["src/a.ts"] }, false],
    [{ provider: "gitlab" as const, changedFiles: ["src/a.ts"] }, false],
    [{ repository: "ACME/Web-App", changedFiles: ["src/a.ts"] }, true],
    [{ repository: "acme/other", changedFiles: ["src/a.ts"] }, false],
    [{ event: "tag" as const, branch: undefined, tag: "v1.0" }, true],
    [{ event: "tag" as const, branch: undefined, tag: "nightly" }, false],
  ])("%o → %s", (overrides, expected) => {
    const ctx = trigger({ changedFiles: [], ...overrides });
    expect(pipelineMatches(p, ctx)).toBe(expected);
  });

  it("without a paths filter, a push whose files are unknown still matches", () => {
    expect(pipelineMatches(pipeline(), trigger())).toBe(true);
  });

  it("`when` filters by event, branch and tag", () => {
    const task = runTask("t", { when: { events: ["push"], branches: ["main"] } }) as never;
    expect(whenMatches(task, { event: "push", branch: "main" })).toBe(true);
    expect(whenMatches(task, { event: "manual", branch: "main" })).toBe(false);
    expect(whenMatches(task, { event: "push", branch: "dev" })).toBe(false);
  });
});
