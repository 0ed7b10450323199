import { describe, expect, it } from "vitest";
import {
  buildJob,
  buildTaskSecret,
  DISRUPTIONS_DO_NOT_COUNT,
  labelValue,
} from "../../core/adapters/kubernetes/index.js";
import { renderTask, transition } from "../../core/engine/index.js";
import { PermanentError } from "../../core/errors.js";
import type { TaskLaunch } from "../../core/model/index.js";
import { expandEnvValue } from "../fake-kubernetes/index.js";
import { jobTemplate, newRun, pipeline, T0, trigger } from "../helpers/factories.js";

// Tests reach deep into manifests to break them on purpose.
// biome-ignore lint/suspicious/noExplicitAny: a manifest is mutated field by field
type Manifest = any;

const OPTIONS = { namespace: "ci", ttlSecondsAfterFinished: 86_400 };

function runLaunch(overrides: Partial<TaskLaunch> = {}): TaskLaunch {
  return {
    runId: "r1",
    pipeline: "web-app",
    task: "unit",
    attempt: 2,
    jobName: "hf-unit-0123456789-2",
    timeoutSeconds: 900,
    env: { HOOKFLOW_TASK: "unit", GIT_BRANCH: "main" },
    secretEnv: { HOOKFLOW_TASK_TOKEN: "token-abc", NPM_TOKEN: "npm-secret" },
    source: {
      kind: "run",
      image: "node:22",
      command: ["sh", "-c", "npm test"],
      args: ["--ci"],
      workingDir: "/src",
    },
    ...overrides,
  };
}

function templateLaunch(overrides: Partial<TaskLaunch> = {}): TaskLaunch {
  return runLaunch({
    task: "image",
    attempt: 1,
    jobName: "hf-image-291b524606-1",
    timeoutSeconds: 3600,
    env: { GIT_BRANCH: "main", IMAGE: "registry.example.com/acme/web" },
    secretEnv: { REGISTRY_PASSWORD: "hunter2-secret" },
    source: { kind: "job", template: "kaniko-build", manifest: structuredClone(jobTemplate().template) },
    ...overrides,
  });
}

const labels = (task: string, attempt: string) => ({
  "app.kubernetes.io/managed-by": "hookflow",
  "hookflow.dev/run": "r1",
  "hookflow.dev/pipeline": "web-app",
  "hookflow.dev/task": task,
  "hookflow.dev/attempt": attempt,
});

const annotations = (task: string, attempt: string, template?: string) => ({
  "hookflow.dev/run": "r1",
  "hookflow.dev/pipeline": "web-app",
  "hookflow.dev/task": task,
  "hookflow.dev/attempt": attempt,
  ...(template && { "hookflow.dev/template": template }),
});

const secretRef = (jobName: string, key: string) => ({
  name: key,
  valueFrom: { secretKeyRef: { name: `${jobName}-env`, key } },
});

describe("buildJob", () => {
  it("turns a run task into a one-container Job", () => {
    expect(buildJob(runLaunch(), OPTIONS)).toEqual({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        name: "hf-unit-0123456789-2",
        namespace: "ci",
        labels: labels("unit", "2"),
        annotations: annotations("unit", "2"),
      },
      spec: {
        backoffLimit: 0,
        // The pod's deadline times the task out; the Job's, 30 s later, only catches a pod that never starts.
        activeDeadlineSeconds: 930,
        ttlSecondsAfterFinished: 86_400,
        podFailurePolicy: DISRUPTIONS_DO_NOT_COUNT,
        template: {
          metadata: { labels: labels("unit", "2"), annotations: annotations("unit", "2") },
          spec: {
            activeDeadlineSeconds: 900,
            restartPolicy: "Never",
            automountServiceAccountToken: false,
            containers: [
              {
                name: "task",
                image: "node:22",
                command: ["sh", "-c", "npm test"],
                args: ["--ci"],
                workingDir: "/src",
                terminationMessagePolicy: "FallbackToLogsOnError",
                env: [
                  { name: "GIT_BRANCH", value: "main" },
                  { name: "HOOKFLOW_TASK", value: "unit" },
                  secretRef("hf-unit-0123456789-2", "HOOKFLOW_TASK_TOKEN"),
                  secretRef("hf-unit-0123456789-2", "NPM_TOKEN"),
                ],
              },
            ],
          },
        },
      },
    });
  });

  it("keeps a job template's own fields and overrides name, namespace, retries, deadline and TTL", () => {
    const launch = templateLaunch();
    if (launch.source.kind !== "job") throw new Error("not a job launch");
    const manifest = launch.source.manifest as {
      metadata: Record<string, unknown>;
      spec: Record<string, unknown>;
    };
    Object.assign(manifest.metadata, { namespace: "elsewhere", uid: "stale", resourceVersion: "7" });
    Object.assign(manifest.spec, { backoffLimit: 6, activeDeadlineSeconds: 5, ttlSecondsAfterFinished: 0 });
    expect(buildJob(launch, { namespace: "ci", ttlSecondsAfterFinished: 600 })).toEqual({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        name: "hf-image-291b524606-1",
        namespace: "ci",
        labels: { team: "web", ...labels("image", "1") },
        annotations: annotations("image", "1", "kaniko-build"),
      },
      spec: {
        backoffLimit: 0,
        activeDeadlineSeconds: 3630,
        ttlSecondsAfterFinished: 600,
        podFailurePolicy: DISRUPTIONS_DO_NOT_COUNT,
        template: {
          metadata: { labels: labels("image", "1"), annotations: annotations("image", "1", "kaniko-build") },
          spec: {
            activeDeadlineSeconds: 3600,
            restartPolicy: "Never",
            containers: [
              {
                name: "kaniko",
                image: "gcr.io/kaniko-project/executor:v1.23.2",
                args: [
                  "--dockerfile=${DOCKERFILE}",
                  "--destination=${IMAGE}:${APP_VERSION}",
                  "--label=${GIT_BRANCH}",
                ],
                terminationMessagePolicy: "FallbackToLogsOnError",
                env: [
                  { name: "GIT_BRANCH", value: "main" },
                  { name: "IMAGE", value: "registry.example.com/acme/web" },
                  secretRef("hf-image-291b524606-1", "REGISTRY_PASSWORD"),
                ],
              },
            ],
          },
        },
      },
    });
  });

  it("builds the Job of a task the engine rendered from a job template", () => {
    const run = newRun({
      pipeline: pipeline({
        params: { IMAGE: "registry.example.com/acme/web" },
        stages: [{ name: "build", tasks: [{ name: "image", job: "kaniko-build" }] }],
      }),
      jobs: { "kaniko-build": jobTemplate() },
    });
    const { effects } = transition(run, { type: "run.created" }, T0);
    const submit = effects.find((e) => e.type === "submitTask");
    if (submit?.type !== "submitTask") throw new Error("no task submitted");
    const job = buildJob(submit.launch, OPTIONS);
    const container = job.spec?.template.spec?.containers[0];
    expect(container?.args).toEqual([
      "--dockerfile=Dockerfile",
      "--destination=registry.example.com/acme/web:20261123-main-01234567",
      "--label=${GIT_BRANCH}",
    ]);
    expect(container?.env).toContainEqual({ name: "GIT_BRANCH", value: "main" });
    expect(container?.env).toContainEqual(secretRef(submit.launch.jobName, "REGISTRY_PASSWORD"));
    expect(JSON.stringify(job)).not.toContain("hunter2-secret");
  });

  it("merges env with the template's: hookflow's first and winning, the template's own kept after", () => {
    const launch = templateLaunch();
    if (launch.source.kind !== "job") throw new Error("not a job launch");
    const podSpec = (launch.source.manifest as Manifest).spec.template.spec;
    podSpec.containers[0].env = [
      { name: "GIT_BRANCH", value: "from-template" },
      { name: "CACHE_DIR", value: "/cache/$(GIT_BRANCH)" },
      { name: "REGISTRY_PASSWORD", value: "plain-in-template" },
    ];
    podSpec.initContainers = [
      { name: "clone", image: "alpine/git:2.45", args: ["clone", "$(GIT_CLONE_URL)"] },
    ];
    const job = buildJob(launch, OPTIONS);
    const spec = job.spec?.template.spec;
    const expectedEnv = [
      { name: "GIT_BRANCH", value: "main" },
      { name: "IMAGE", value: "registry.example.com/acme/web" },
      secretRef(launch.jobName, "REGISTRY_PASSWORD"),
    ];
    expect(spec?.containers[0]?.env).toEqual([
      ...expectedEnv,
      { name: "CACHE_DIR", value: "/cache/$(GIT_BRANCH)" },
    ]);
    expect(spec?.initContainers?.[0]?.env).toEqual(expectedEnv);
    expect(spec?.initContainers?.[0]?.terminationMessagePolicy).toBe("FallbackToLogsOnError");
  });

  it("keeps a template's restartPolicy and sets Never when it has none", () => {
    const withOnFailure = templateLaunch();
    const noPolicy = templateLaunch();
    if (withOnFailure.source.kind !== "job" || noPolicy.source.kind !== "job")
      throw new Error("not job launches");
    (withOnFailure.source.manifest as Manifest).spec.template.spec.restartPolicy = "OnFailure";
    delete (noPolicy.source.manifest as Manifest).spec.template.spec.restartPolicy;
    expect(buildJob(withOnFailure, OPTIONS).spec?.template.spec?.restartPolicy).toBe("OnFailure");
    expect(buildJob(noPolicy, OPTIONS).spec?.template.spec?.restartPolicy).toBe("Never");
  });

  it("makes label values valid and keeps the exact values in annotations", () => {
    const long = `Pipeline_${"x".repeat(80)}-`;
    const job = buildJob(runLaunch({ pipeline: long, task: "-odd/name!" }), OPTIONS);
    const jobLabels = job.metadata?.labels ?? {};
    expect(jobLabels["hookflow.dev/pipeline"]).toBe(`Pipeline_${"x".repeat(54)}`);
    expect(jobLabels["hookflow.dev/task"]).toBe("odd-name");
    expect(job.metadata?.annotations?.["hookflow.dev/pipeline"]).toBe(long);
    expect(labelValue("---")).toBe("");
    for (const value of Object.values(jobLabels))
      expect(value).toMatch(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/);
  });

  it("never writes a sensitive value into the Job", () => {
    const job = JSON.stringify(buildJob(runLaunch(), OPTIONS));
    expect(job).not.toContain("token-abc");
    expect(job).not.toContain("npm-secret");
  });

  it("lets a sensitive value win over a plain one of the same name", () => {
    const launch = runLaunch({ env: { NPM_TOKEN: "plain" }, secretEnv: { NPM_TOKEN: "npm-secret" } });
    expect(buildJob(launch, OPTIONS).spec?.template.spec?.containers[0]?.env).toEqual([
      secretRef(launch.jobName, "NPM_TOKEN"),
    ]);
  });
});

describe("untrusted values", () => {
  const hostileBranch = "x$(touch /tmp/pwned)";
  const hostileMessage = 'Fix\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: stolen\n}{"a": 1}';

  /** Every key path of a JSON value, array indices as `[]`: the manifest's structure. */
  function keyPaths(value: unknown, path = ""): string[] {
    if (Array.isArray(value)) return [path, ...value.flatMap((item) => keyPaths(item, `${path}[]`))];
    if (value !== null && typeof value === "object")
      return [path, ...Object.entries(value).flatMap(([k, v]) => keyPaths(v, `${path}.${k}`))];
    return [path];
  }

  function stringsWith(value: unknown, needle: string, path = ""): string[] {
    if (typeof value === "string") return value.includes(needle) ? [path] : [];
    if (Array.isArray(value)) return value.flatMap((item, i) => stringsWith(item, needle, `${path}[${i}]`));
    if (value !== null && typeof value === "object")
      return Object.entries(value).flatMap(([k, v]) => stringsWith(v, needle, `${path}.${k}`));
    return [];
  }

  function renderedWith(branch: string, message: string): TaskLaunch {
    const run = newRun({
      pipeline: pipeline({
        params: { IMAGE: "registry.example.com/acme/web" },
        stages: [{ name: "build", tasks: [{ name: "image", job: "kaniko-build" }] }],
      }),
      jobs: { "kaniko-build": jobTemplate() },
      trigger: trigger({ branch, ref: `refs/heads/${branch}`, message }),
    });
    const rendered = renderTask(run, "image", 1, "hf-image-291b524606-1");
    if (!rendered.ok) throw new Error(rendered.message);
    return rendered.launch;
  }

  it("reach the container only as env values and leave the manifest's keys unchanged", () => {
    const benign = buildJob(renderedWith("main", "Fix the build"), OPTIONS);
    const hostile = buildJob(renderedWith(hostileBranch, hostileMessage), OPTIONS);
    expect(keyPaths(hostile)).toEqual(keyPaths(benign));
    const env = hostile.spec?.template.spec?.containers[0]?.env ?? [];
    const indexOf = (name: string) => env.findIndex((e) => e.name === name);
    // APP_VERSION is built from the branch in a safe alphabet, so only the raw text is looked for.
    expect(stringsWith(hostile, "touch /tmp/pwned").sort()).toEqual(
      [
        `.spec.template.spec.containers[0].env[${indexOf("GIT_BRANCH")}].value`,
        `.spec.template.spec.containers[0].env[${indexOf("GIT_REF")}].value`,
      ].sort(),
    );
    expect(stringsWith(hostile, "kind: Secret")).toEqual([
      `.spec.template.spec.containers[0].env[${indexOf("GIT_COMMIT_MESSAGE")}].value`,
    ]);
    expect(env.find((e) => e.name === "APP_VERSION")?.value).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(hostile.kind).toBe("Job");
    expect(hostile.spec?.template.spec?.containers[0]?.args?.[2]).toBe("--label=${GIT_BRANCH}");
  });

  it("are escaped so that Kubernetes' $(NAME) expansion gives the container the exact value", () => {
    const launch = runLaunch({
      env: { GIT_BRANCH: hostileBranch, GIT_AUTHOR: "$(HOOKFLOW_TASK_TOKEN)", GIT_TAG: "a$$b$" },
    });
    const env = buildJob(launch, OPTIONS).spec?.template.spec?.containers[0]?.env ?? [];
    const seen: Record<string, string> = { HOOKFLOW_TASK_TOKEN: "token-abc" };
    for (const entry of env)
      if (entry.value !== undefined) seen[entry.name] = expandEnvValue(entry.value, (n) => seen[n]);
    expect(env.find((e) => e.name === "GIT_BRANCH")?.value).toBe("x$$(touch /tmp/pwned)");
    expect(seen).toMatchObject({
      GIT_BRANCH: hostileBranch,
      GIT_AUTHOR: "$(HOOKFLOW_TASK_TOKEN)",
      GIT_TAG: "a$$b$",
    });
  });
  it("never let Kubernetes' $(NAME) expansion put an untrusted value into a command or args", () => {
    const script = 'echo "$GIT_BRANCH" $(GIT_BRANCH) $$ $(date)';
    // In a template, `$$` is Kubernetes' own escape, the author's to use.
    const templateScript = 'echo "$GIT_BRANCH" $(GIT_BRANCH) $(date)';
    const source = {
      kind: "run" as const,
      image: "alpine",
      command: ["sh", "-c", script],
      args: ["$(GIT_BRANCH)"],
    };
    const run = buildJob(runLaunch({ env: { GIT_BRANCH: hostileBranch }, source }), OPTIONS);
    const expand = (part: string) =>
      expandEnvValue(part, (name) => (name === "GIT_BRANCH" ? hostileBranch : undefined));
    expect(run.spec?.template.spec?.containers[0]?.command?.map(expand)).toEqual(["sh", "-c", script]);
    expect(run.spec?.template.spec?.containers[0]?.args?.map(expand)).toEqual(["$(GIT_BRANCH)"]);

    const job = jobTemplate({
      params: [{ name: "IMAGE", default: "reg/web" }],
      template: {
        ...jobTemplate().template,
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: "c",
                  image: "i",
                  command: ["sh", "-c", templateScript],
                  args: ["--to=$(IMAGE)", "--from=$(GIT_BRANCH)"],
                },
              ],
            },
          },
        },
      },
    });
    const rendered = renderTask(
      newRun({
        pipeline: pipeline({ stages: [{ name: "s", tasks: [{ name: "t", job: "kaniko-build" }] }] }),
        jobs: { "kaniko-build": job },
        trigger: trigger({ branch: hostileBranch }),
      }),
      "t",
      1,
      "hf-t-0000000000-1",
    );
    if (!rendered.ok) throw new Error(rendered.message);
    const container = buildJob(rendered.launch, OPTIONS).spec?.template.spec?.containers[0];
    const lookup = (name: string) => rendered.launch.env[name];
    expect(container?.command?.map((part) => expandEnvValue(part, lookup))).toEqual([
      "sh",
      "-c",
      templateScript,
    ]);
    // A template may still use Kubernetes' expansion for trusted values.
    expect(container?.args?.map((part) => expandEnvValue(part, lookup))).toEqual([
      "--to=reg/web",
      "--from=$(GIT_BRANCH)",
    ]);
  });
});

describe("validation before submission", () => {
  it.each([
    [
      "a template container without an image",
      (m: Manifest) => delete m.spec.template.spec.containers[0].image,
      "spec.template.spec.containers[0].image: required",
    ],
    [
      "an image that rendered empty",
      (m: Manifest) => {
        m.spec.template.spec.containers[0].image = "";
      },
      "spec.template.spec.containers[0].image: required",
    ],
    [
      "a container without a name",
      (m: Manifest) => delete m.spec.template.spec.containers[0].name,
      "spec.template.spec.containers[0].name: required",
    ],
    [
      "no containers",
      (m: Manifest) => {
        m.spec.template.spec.containers = [];
      },
      "spec.template.spec.containers: a Job needs at least one container",
    ],
    [
      "restartPolicy Always",
      (m: Manifest) => {
        m.spec.template.spec.restartPolicy = "Always";
      },
      "spec.template.spec.restartPolicy: must be Never or OnFailure for a Job",
    ],
    [
      "an invalid env name in the template",
      (m: Manifest) => {
        m.spec.template.spec.containers[0].env = [{ name: "1BAD NAME", value: "x" }];
      },
      // After hookflow's three variables, which come first.
      "spec.template.spec.containers[0].env[3].name: letters, digits",
    ],
    [
      "an invalid template label",
      (m: Manifest) => {
        m.metadata.labels = { team: "web team" };
      },
      "metadata.labels.team: not a valid label value",
    ],
  ])("refuses %s with a PermanentError naming the field", (_, mutate, field) => {
    const launch = templateLaunch();
    if (launch.source.kind !== "job") throw new Error("not a job launch");
    mutate(launch.source.manifest);
    expect(() => buildJob(launch, OPTIONS)).toThrow(PermanentError);
    expect(() => buildJob(launch, OPTIONS)).toThrow(field);
  });

  it("refuses an invalid Job name and an invalid env name from hookflow", () => {
    expect(() => buildJob(runLaunch({ jobName: "Not_A_Name" }), OPTIONS)).toThrow(
      /metadata\.name: lowercase/,
    );
    expect(() => buildJob(runLaunch({ env: { "BAD=NAME": "x" } }), OPTIONS)).toThrow(/env\[0\]\.name/);
  });
});

describe("buildTaskSecret", () => {
  it("holds the sensitive env, owned by the Job, immutable", () => {
    const launch = runLaunch();
    expect(buildTaskSecret(launch, "ci", { name: launch.jobName, uid: "uid-1" })).toEqual({
      apiVersion: "v1",
      kind: "Secret",
      type: "Opaque",
      immutable: true,
      metadata: {
        name: "hf-unit-0123456789-2-env",
        namespace: "ci",
        labels: labels("unit", "2"),
        annotations: annotations("unit", "2"),
        ownerReferences: [
          { apiVersion: "batch/v1", kind: "Job", name: "hf-unit-0123456789-2", uid: "uid-1" },
        ],
      },
      stringData: { HOOKFLOW_TASK_TOKEN: "token-abc", NPM_TOKEN: "npm-secret" },
    });
  });
});
