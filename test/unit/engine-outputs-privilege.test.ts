import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderTask, transition } from "../../core/engine/index.js";
import { isProcessControlName, type JobTemplate, type Run, type TaskLaunch } from "../../core/model/index.js";
import { parseJobTemplate, parsePipeline } from "../../core/model/parse.js";
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

const EXAMPLES = join(import.meta.dirname, "..", "..", "examples");
const example = <T>(result: { ok: true; value: T } | { ok: false; issues: unknown }): T => {
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
};
const webApp = example(await parsePipeline(readFileSync(join(EXAMPLES, "web-app.yaml"), "utf8")));
const jobs: Record<string, JobTemplate> = Object.fromEntries(
  await Promise.all(
    ["kaniko-build", "kubectl-deploy", "test-runner"].map(async (name) => [
      name,
      example(await parseJobTemplate(readFileSync(join(EXAMPLES, "jobs", `${name}.yaml`), "utf8"))),
    ]),
  ),
);

function launchOf(run: Run, task: string): TaskLaunch {
  const state = taskState(run, task);
  const rendered = renderTask(run, task, state.attempt, state.jobName ?? "job");
  if (!rendered.ok) throw new Error(rendered.message);
  return rendered.launch;
}

/** The example's run on main up to the approved deploy, the image task having reported `outputs`. */
function approvedDeploy(outputs: string | Record<string, string>): Run {
  let { run } = play(newRun({ pipeline: webApp, jobs, trigger: trigger({ branch: "main" }) }), [started()]);
  ({ run } = play(run, [...succeed(run, "unit"), ...succeed(run, "lint")]));
  ({ run } = play(run, succeed(run, "image", outputs)));
  ({ run } = play(run, [{ type: "approval.granted", task: "deploy", by: "alice" }]));
  expect(taskState(run, "deploy").status).toBe("queued");
  return run;
}

const ATTACK = [
  "IMAGE=evil.example.com/backdoor",
  "NAMESPACE=kube-system",
  "SERVICE_ACCOUNT=cluster-admin",
  "PATH=/tmp/evil:/usr/bin",
  "LD_PRELOAD=/tmp/evil.so",
  "BASH_ENV=/tmp/evil.sh",
  "NODE_OPTIONS=--require /tmp/evil.js",
  "GIT_SSH_COMMAND=sh /tmp/evil.sh",
  "HTTPS_PROXY=http://evil.example.com:3128",
  "HOOKFLOW_CALLBACK_URL=https://evil.example.com",
  "APP_VERSION=evil",
  "IMAGE_DIGEST=sha256:0123",
].join("\n");

describe("an earlier task's outputs in the approved-deploy example", () => {
  it("cannot change what the deploy gets: its image, namespace, account or any process-control name", () => {
    const clean = launchOf(approvedDeploy("IMAGE_DIGEST=sha256:0123"), "deploy");
    const attacked = approvedDeploy(ATTACK);
    const launch = launchOf(attacked, "deploy");
    expect(launch.source).toEqual(clean.source);
    expect(launch.env).toEqual(clean.env);
    expect(launch.env).toMatchObject({
      IMAGE: "registry.example.com/acme/web",
      NAMESPACE: "production",
      SERVICE_ACCOUNT: "hookflow-deployer",
      IMAGE_DIGEST: "sha256:0123",
    });
    for (const name of ["PATH", "LD_PRELOAD", "BASH_ENV", "NODE_OPTIONS", "GIT_SSH_COMMAND", "HTTPS_PROXY"])
      expect(launch.env).not.toHaveProperty(name);
    expect(launch.source).toMatchObject({
      manifest: { spec: { template: { spec: { serviceAccountName: "hookflow-deployer" } } } },
    });
  });

  it("are refused, and the reporting task's message names each one", () => {
    const image = taskState(approvedDeploy(ATTACK), "image");
    expect(image.status).toBe("succeeded");
    expect(Object.keys(image.outputs)).toEqual(["IMAGE_DIGEST"]);
    for (const name of ["IMAGE", "NAMESPACE", "SERVICE_ACCOUNT", "PATH", "LD_PRELOAD", "APP_VERSION"])
      expect(image.message).toContain(name);
    expect(image.message).toMatch(/^outputs refused: IMAGE is declared by the run's definitions; /);
  });

  it("refused, leave a retried report of the same end a duplicate (a retried curl gets 200), a different one not", () => {
    const run = approvedDeploy(ATTACK);
    const again = { type: "task.succeeded" as const, task: "image", attempt: 1, outputs: ATTACK };
    expect(transition(run, again, T0).ignored?.reason).toBe("Duplicate");
    expect(transition(run, { ...again, outputs: "IMAGE_DIGEST=sha256:other" }, T0).ignored?.reason).toBe(
      "TaskTerminal",
    );
  });

  it("are refused under a container's `env` name, and kept under a name nothing declares", () => {
    const withEnv = jobTemplate({
      name: "kaniko-build",
      params: [{ name: "IMAGE", default: "registry.example.com/web" }],
      template: {
        apiVersion: "batch/v1",
        kind: "Job",
        spec: {
          template: {
            spec: {
              containers: [{ name: "c", image: "x", env: [{ name: "REGISTRY", value: "r.example.com" }] }],
            },
          },
        },
      },
    });
    const p = pipeline({
      stages: [
        { name: "prep", tasks: [runTask("prep")] },
        { name: "build", tasks: [{ name: "image", job: "kaniko-build" }] },
      ],
    });
    let { run } = play(newRun({ pipeline: p, jobs: { "kaniko-build": withEnv } }), [started()]);
    ({ run } = play(run, succeed(run, "prep", { REGISTRY: "evil.example.com", FREE: "ok" })));
    expect(taskState(run, "prep").message).toBe(
      "outputs refused: REGISTRY is declared by the run's definitions",
    );
    const { env } = launchOf(run, "image");
    expect(env).toMatchObject({ FREE: "ok" });
    expect(env).not.toHaveProperty("REGISTRY");
  });

  it("already stored by an older version are screened again before they reach a task", () => {
    let { run } = play(newRun({ pipeline: webApp, jobs, trigger: trigger({ branch: "main" }) }), [started()]);
    ({ run } = play(run, [...succeed(run, "unit"), ...succeed(run, "lint")]));
    const stored = structuredClone(run);
    taskState(stored, "unit").outputs = { IMAGE: "evil", PATH: "/tmp", OK: "yes" };
    const { env } = launchOf(stored, "image");
    expect(env).toMatchObject({ IMAGE: "registry.example.com/acme/web", OK: "yes" });
    expect(env).not.toHaveProperty("PATH");
  });
});

describe("process-control names", () => {
  it.each([
    "PATH",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "DYLD_INSERT_LIBRARIES",
    "BASH_ENV",
    "BASH_FUNC_x%%",
    "ENV",
    "IFS",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "NODE_OPTIONS",
    "NODE_EXTRA_CA_CERTS",
    "npm_config_registry",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "RUBYLIB",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "GIT_SSH_COMMAND",
    "GIT_CONFIG_COUNT",
    "HOOKFLOW_TASK_TOKEN",
    "SSL_CERT_FILE",
    "http_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "NO_PROXY",
    "KUBECONFIG",
    "AWS_ACCESS_KEY_ID",
    "HOME",
    "SHELL",
    "TMPDIR",
  ])("%s is one", (name) => {
    expect(isProcessControlName(name)).toBe(true);
  });

  it.each(["IMAGE_DIGEST", "VERSION", "TESTED_COMMIT", "PATHS_CHANGED", "DEPLOY_URL"])(
    "%s is not",
    (name) => {
      expect(isProcessControlName(name)).toBe(false);
    },
  );
});
