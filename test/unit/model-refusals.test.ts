import { describe, expect, it } from "vitest";
import { renderTask } from "../../core/engine/index.js";
import { checkPipelineJobs, type JobTemplate, type Run, type TaskLaunch } from "../../core/model/index.js";
import { parseJobTemplate, parsePipeline } from "../../core/model/parse.js";
import {
  jobTemplate,
  newRun,
  pipeline,
  play,
  runTask,
  started,
  succeed,
  taskState,
} from "../helpers/factories.js";

/** kaniko-build declares REGISTRY_PASSWORD sensitive; `plain` declares nothing sensitive. */
const kaniko = jobTemplate();
const plain = jobTemplate({ name: "plain", params: [{ name: "IMAGE", default: "x" }] });
const jobs = new Map<string, JobTemplate>([
  ["kaniko-build", kaniko],
  ["plain", plain],
]);
type Manifest = {
  spec: { template: { spec: { containers: [{ image: string; args: string[]; command?: string[] }] } } };
};
const SECRET = "s3cr3t-registry-password";

function launchOf(run: Run, task: string): TaskLaunch {
  const state = taskState(run, task);
  const rendered = renderTask(run, task, state.attempt, state.jobName ?? "job");
  if (!rendered.ok) throw new Error(rendered.message);
  return rendered.launch;
}

describe("a sensitive pipeline param", () => {
  const p = pipeline({
    params: { IMAGE: "reg/web", REGISTRY_PASSWORD: SECRET, AUTH: "basic ${REGISTRY_PASSWORD}" },
    stages: [
      { name: "test", tasks: [runTask("unit"), { name: "other", job: "plain" }] },
      {
        name: "ship",
        tasks: [
          { name: "image", job: "kaniko-build" },
          runTask("publish", { secrets: ["REGISTRY_PASSWORD"] }),
        ],
      },
    ],
  });
  const play2 = () => {
    let { run } = play(newRun({ pipeline: p, jobs: Object.fromEntries(jobs) }), [started()]);
    const unit = launchOf(run, "unit");
    ({ run } = play(run, succeed(run, "unit")));
    const other = launchOf(run, "other");
    ({ run } = play(run, succeed(run, "other")));
    const image = launchOf(run, "image");
    ({ run } = play(run, succeed(run, "image")));
    return { unit, other, image, publish: launchOf(run, "publish") };
  };

  it("reaches no task that did not ask for it, nor does a value built from it", async () => {
    const { unit, other } = play2();
    for (const launch of [unit, other]) {
      expect(JSON.stringify(launch)).not.toContain(SECRET);
      expect(launch.env).not.toHaveProperty("REGISTRY_PASSWORD");
      expect(launch.env).not.toHaveProperty("AUTH");
      expect(launch.secretEnv).toEqual({});
      expect(launch.env).toMatchObject({ IMAGE: "reg/web" });
    }
  });

  it("reaches the job whose template declares it, and the run task that lists it, as secret env only", async () => {
    const { image, publish } = play2();
    expect(image.secretEnv).toEqual({ REGISTRY_PASSWORD: SECRET, AUTH: `basic ${SECRET}` });
    expect(publish.secretEnv).toEqual({ REGISTRY_PASSWORD: SECRET, AUTH: `basic ${SECRET}` });
    for (const launch of [image, publish])
      expect(JSON.stringify({ ...launch, secretEnv: {} })).not.toContain(SECRET);
  });

  it("listed by a run task but set nowhere fails that task, naming it", async () => {
    const q = pipeline({
      stages: [{ name: "s", tasks: [runTask("t", { secrets: ["REGISTRY_PASSWORD"] })] }],
    });
    const { run } = play(newRun({ pipeline: q, jobs: { "kaniko-build": kaniko } }), [started()]);
    expect(taskState(run, "t")).toMatchObject({ status: "failed", reason: "MissingVariable" });
    expect(taskState(run, "t").message).toMatch(/secret REGISTRY_PASSWORD/);
  });
});

const issuesOf = (result: { ok: boolean; issues?: unknown }) => (result.ok ? [] : result.issues);
const task = (extra: Record<string, unknown>) => ({
  name: "p",
  params: { GOOD: "tab\tand\nnewline are fine" },
  stages: [
    { name: "s", tasks: [{ name: "t", run: { image: "alpine", command: ["sh", "-c", "true"] }, ...extra }] },
  ],
});

describe("apply refuses, with the field's path", () => {
  it("`secrets` on a job task", async () => {
    expect(issuesOf(await parsePipeline(task({ run: undefined, job: "plain", secrets: ["X"] })))).toEqual([
      expect.objectContaining({ path: "stages[0].tasks[0].secrets" }),
    ]);
  });

  it("a `secrets` name no job template declares sensitive", async () => {
    const parsed = await parsePipeline(task({ secrets: ["REGISTRY_PASSWORD", "IMAGE"] }));
    if (!parsed.ok) throw new Error("expected a valid pipeline");
    expect(checkPipelineJobs(parsed.value, jobs).issues).toEqual([
      {
        path: "stages[0].tasks[0].secrets[1]",
        message: expect.stringMatching(/^IMAGE is not declared sensitive/),
      },
    ]);
  });

  it("a sensitive param written into run.image or a job template's field", async () => {
    const parsed = await parsePipeline(
      task({ run: { image: "reg/${REGISTRY_PASSWORD}", command: ["true"] } }),
    );
    if (!parsed.ok) throw new Error("expected a valid pipeline");
    expect(checkPipelineJobs(parsed.value, jobs).issues).toEqual([
      expect.objectContaining({ path: "stages[0].tasks[0].run.image" }),
    ]);
    const template = structuredClone(kaniko.template) as unknown as Manifest;
    template.spec.template.spec.containers[0].image = "${REGISTRY_PASSWORD}";
    template.spec.template.spec.containers[0].args.push("--password=${REGISTRY_PASSWORD}");
    expect(issuesOf(await parseJobTemplate({ ...kaniko, template }))).toEqual([
      expect.objectContaining({ path: "template.spec.template.spec.containers[0].image" }),
    ]);
  });

  it("a template that writes a name into a field that another template of the pipeline declares sensitive", async () => {
    const writer = jobTemplate({
      name: "writer",
      params: [{ name: "REGISTRY_PASSWORD" }],
      template: { ...kaniko.template, metadata: { annotations: { note: "${REGISTRY_PASSWORD}" } } },
    });
    const both = new Map([...jobs, ["writer", writer]]);
    const uses = (names: string[]) =>
      pipeline({ stages: [{ name: "s", tasks: names.map((job) => ({ name: `t-${job}`, job })) }] });
    expect(checkPipelineJobs(uses(["writer"]), both).issues).toEqual([]);
    expect(checkPipelineJobs(uses(["kaniko-build", "writer"]), both).issues).toEqual([
      {
        path: "stages[0].tasks[1].job",
        message: expect.stringMatching(
          /"writer" writes REGISTRY_PASSWORD into template\.metadata\.annotations\.note/,
        ),
      },
    ]);
  });

  it.each([
    [
      "a NUL in a command",
      task({ run: { image: "a", command: ["sh", "-c", "echo ok\u0000rm -rf /"] } }),
      "stages[0].tasks[0].run.command[2]",
    ],
    [
      "an escape in an arg",
      task({ run: { image: "a", command: ["sh"], args: ["\u001b[2Jhidden"] } }),
      "stages[0].tasks[0].run.args[0]",
    ],
    ["a carriage return in a pipeline param", { ...task({}), params: { X: "shown\rhidden" } }, "params.X"],
    ["a NUL in a task param", task({ params: { X: "a\u0000b" } }), "stages[0].tasks[0].params.X"],
    [
      "a DEL in an image",
      task({ run: { image: "alpine\u007f", command: ["true"] } }),
      "stages[0].tasks[0].run.image",
    ],
  ])("%s", async (_, input, path) => {
    expect(issuesOf(await parsePipeline(input))).toEqual([
      { path, message: expect.stringMatching(/control character U\+00(00|1B|0D|7F); only tab and newline/) },
    ]);
  });

  it("a control character in a job template's param default or manifest", async () => {
    const template = structuredClone(kaniko.template) as unknown as Manifest;
    template.spec.template.spec.containers[0].command = ["sh", "-c", "a\u0000b"];
    const input = { ...kaniko, params: [{ name: "A", default: "x\u0007" }], template };
    expect(issuesOf(await parseJobTemplate(input))).toEqual([
      expect.objectContaining({ path: "params[0].default" }),
      expect.objectContaining({ path: "template.spec.template.spec.containers[0].command[2]" }),
    ]);
  });

  it("a notify URL with user:password (or a user alone)", async () => {
    for (const url of ["https://user:pass@hooks.example.com/x", "https://token@hooks.example.com/x"])
      expect(issuesOf(await parsePipeline({ ...task({}), notify: [{ kind: "webhook", url }] }))).toEqual([
        { path: "notify[0].url", message: expect.stringMatching(/may not carry user:password/) },
      ]);
    expect(
      (
        await parsePipeline({
          ...task({}),
          notify: [{ kind: "webhook", url: "https://hooks.example.com/x" }],
        })
      ).ok,
    ).toBe(true);
  });
});
