import { describe, expect, it } from "vitest";
import { checkPipelineJobs, describeIssues, LIMITS } from "../../core/model/index.js";
import { parseJobTemplate, parsePipeline, parseTexts } from "../../core/model/parse.js";
import { jobTemplate, pipeline, runTask } from "../helpers/factories.js";

const YAML_PIPELINE = `
name: web-app
triggers:
  - provider: github
    repository: acme/web-app
    events: [push, tag]
    branches: ["main", "release/*"]
    tags: ["v*"]
concurrency: { group: "\${GIT_REPOSITORY}/\${GIT_BRANCH}", cancelInProgress: true }
params: { IMAGE: registry.example.com/acme/web }
notify:
  - { kind: feishu, url: "https://open.feishu.cn/open-apis/bot/v2/hook/x", secret: "s", on: [run.failed, task.waiting] }
stages:
  - name: check
    parallel: true
    tasks:
      - { name: unit, run: { image: node:22, command: ["sh", "-c", "npm ci && npm test"] } }
      - { name: lint, run: { image: node:22, command: ["sh", "-c", "npm run lint"] } }
  - name: ship
    tasks:
      - { name: image, job: kaniko-build, params: { DOCKERFILE: Dockerfile } }
      - { name: deploy, job: kubectl-deploy, approval: { approvers: [alice, bob] }, timeoutSeconds: 900, retries: 1 }
`;

async function issuesOf(input: unknown) {
  const result = await parsePipeline(input);
  if (result.ok) throw new Error("expected the pipeline to be refused");
  return result.issues;
}

describe("pipeline definitions", () => {
  it("parses the contract's example, and YAML and JSON give the same definition", async () => {
    const fromYaml = await parsePipeline(YAML_PIPELINE);
    expect(fromYaml.ok).toBe(true);
    if (!fromYaml.ok) return;
    const fromJson = await parsePipeline(JSON.stringify(fromYaml.value));
    expect(fromJson).toEqual(fromYaml);
    expect(fromYaml.value.stages[1]?.tasks[1]).toMatchObject({
      retries: 1,
      timeoutSeconds: 900,
      ignoreFailed: false,
    });
    expect(fromYaml.value.triggers[0]?.events).toEqual(["push", "tag"]);
  });

  it("reports a YAML syntax error with its line and column", async () => {
    const issues = await issuesOf("name: web\nstages:\n  - name: a\n    tasks: x: y\n");
    expect(issues).toEqual([
      {
        path: "",
        message: expect.stringMatching(/^YAML syntax error: Nested mappings/),
        line: 4,
        column: 12,
      },
    ]);
    expect((await issuesOf("a: 1\na: 2\n"))[0]).toMatchObject({
      message: expect.stringMatching(/unique/),
      line: 2,
    });
    // Found at the end of the input: reported on the last line written, not the empty one after it.
    expect((await issuesOf("name: web\nstages: [\n  {name: a\n\n"))[0]).toMatchObject({ line: 3 });
  });

  it("names the path of every problem, and the line it is on", async () => {
    const issues = await issuesOf(`name: web
stages:
  - name: a
    tasks: [{ name: t1, run: { image: x, command: [x] } }]
  - name: b
    tasks:
      - { name: t2, job: "Not Valid" }
`);
    expect(issues).toContainEqual(expect.objectContaining({ path: "stages[1].tasks[0].job", line: 7 }));
    expect(describeIssues(issues)).toMatch(/^stages\[1\]\.tasks\[0\]\.job \(line 7, column \d+\): /m);
  });

  it.each([
    [
      "duplicate stage names",
      {
        stages: [
          { name: "a", tasks: [runTask("x")] },
          { name: "a", tasks: [runTask("y")] },
        ],
      },
      "stages[1].name",
      /duplicate stage/,
    ],
    [
      "duplicate task names",
      {
        stages: [
          { name: "a", tasks: [runTask("x")] },
          { name: "b", tasks: [runTask("x")] },
        ],
      },
      "stages[1].tasks[0].name",
      /duplicate task/,
    ],
    [
      "both run and job",
      { stages: [{ name: "a", tasks: [{ ...runTask("x"), job: "k" }] }] },
      "stages[0].tasks[0]",
      /exactly one of/,
    ],
    [
      "neither run nor job",
      { stages: [{ name: "a", tasks: [{ name: "x" }] }] },
      "stages[0].tasks[0]",
      /exactly one of/,
    ],
    [
      "an unbalanced glob",
      { triggers: [{ provider: "github", repository: "a/b", branches: ["release/[0-9"] }] },
      "triggers[0].branches[0]",
      /invalid glob/,
    ],
    [
      "a bad glob in when",
      { stages: [{ name: "a", tasks: [runTask("x", { when: { tags: ["v{1,2"] } })] }] },
      "stages[0].tasks[0].when.tags[0]",
      /invalid glob/,
    ],
    [
      "no approvers",
      { stages: [{ name: "a", tasks: [runTask("x", { approval: { approvers: [] } })] }] },
      "stages[0].tasks[0].approval.approvers",
      /at least one approver/,
    ],
    [
      "an http notifier",
      { notify: [{ kind: "slack", url: "http://hooks.slack.com/x" }] },
      "notify[0].url",
      /https/,
    ],
    ["an unknown field", { stagez: [] }, "", /stagez/],
    [
      "an unknown provider",
      { triggers: [{ provider: "svn", repository: "a/b" }] },
      "triggers[0].provider",
      /./,
    ],
    ["a bad name", { name: "Web_App" }, "name", /lowercase/],
    [
      "an unknown variable in the concurrency group",
      { concurrency: { group: "${NOPE}" } },
      "concurrency.group",
      /NOPE/,
    ],
  ])("refuses %s", async (_, overrides, path, message) => {
    const base = { name: "web-app", stages: [{ name: "a", tasks: [runTask("x")] }] };
    const issues = await issuesOf({ ...base, ...overrides });
    expect(issues).toContainEqual(expect.objectContaining({ path, message: expect.stringMatching(message) }));
  });

  it("allows http notifiers on localhost and 127.0.0.1 only", async () => {
    for (const url of ["http://localhost:9000/hook", "http://127.0.0.1/x", "https://example.com/x"])
      expect(
        (
          await parsePipeline({
            name: "a",
            stages: [{ name: "s", tasks: [runTask("x")] }],
            notify: [{ kind: "webhook", url }],
          })
        ).ok,
      ).toBe(true);
  });

  it(`accepts ${LIMITS.tasksPerPipeline} tasks and refuses one more`, async () => {
    const stages = (n: number) => [
      { name: "s", parallel: true, tasks: Array.from({ length: n }, (_, i) => runTask(`t${i}`)) },
    ];
    expect((await parsePipeline({ name: "a", stages: stages(LIMITS.tasksPerPipeline) })).ok).toBe(true);
    expect(await issuesOf({ name: "a", stages: stages(LIMITS.tasksPerPipeline + 1) })).toContainEqual(
      expect.objectContaining({ path: "stages", message: expect.stringMatching(/at most 100/) }),
    );
  });

  it("defaults a trigger's events from what it names", async () => {
    const p = pipeline({
      triggers: [
        { provider: "gitlab", repository: "g/p" },
        { provider: "gitlab", repository: "g/p", tags: ["v*"] },
      ],
    });
    expect(p.triggers.map((t) => t.events)).toEqual([["push"], ["push", "tag"]]);
  });
});

describe("job templates", () => {
  const TEMPLATE_YAML = `
name: kubectl-deploy
params:
  - { name: DEPLOYMENT, required: true }
  - { name: TOKEN, sensitive: true }
template: |
  apiVersion: batch/v1
  kind: Job
  spec:
    template:
      spec:
        restartPolicy: Never
        containers:
          - name: kubectl
            image: bitnami/kubectl:1.31
            args: ["set", "image", "deployment/\${DEPLOYMENT}", "app=\${IMAGE}:\${APP_VERSION}"]
`;

  it("parses a template given as YAML text, and warns about references nothing declares", async () => {
    const result = await parseJobTemplate(TEMPLATE_YAML);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.template.kind).toBe("Job");
    expect(result.warnings).toEqual([
      expect.objectContaining({
        path: "template.spec.template.spec.containers[0].args[3]",
        message: expect.stringMatching(/IMAGE/),
      }),
    ]);
  });

  it("refuses a manifest that is not a batch/v1 Job, naming the field", async () => {
    const result = await parseJobTemplate({
      name: "x",
      template: { apiVersion: "v1", kind: "Pod", spec: { template: { spec: { containers: [] } } } },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "template.apiVersion",
        "template.kind",
        "template.spec.template.spec.containers",
      ]),
    );
  });

  it("refuses a default outside the param's enum and duplicate params", async () => {
    const result = await parseJobTemplate({
      ...jobTemplate(),
      params: [{ name: "ENV", enum: ["dev", "prod"], default: "qa" }, { name: "ENV" }],
    });
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual([
      "params[0].default",
      "params[1].name",
    ]);
  });

  it("reports a YAML error inside the template text", async () => {
    const result = await parseJobTemplate({ name: "x", template: "kind: [Job" });
    expect(result.ok ? [] : result.issues).toContainEqual(
      expect.objectContaining({ path: "template", line: 1 }),
    );
  });
});

describe("a pipeline checked against its job templates", () => {
  const jobs = new Map([["kaniko-build", jobTemplate()]]);

  it("refuses an unknown template and warns about unprovided required params and unknown references", async () => {
    const p = pipeline({
      stages: [
        {
          name: "a",
          tasks: [
            { name: "build", job: "kaniko-build" },
            { name: "deploy", job: "nope" },
          ],
        },
        { name: "b", tasks: [runTask("x", { params: { TAG: "${BUILT_DIGEST}", OK: "${GIT_COMMIT}" } })] },
      ],
    });
    const { issues, warnings } = checkPipelineJobs(p, jobs);
    expect(issues).toEqual([{ path: "stages[0].tasks[1].job", message: 'unknown job template "nope"' }]);
    expect(warnings.map((w) => w.path)).toEqual([
      "stages[0].tasks[0].params",
      "stages[1].tasks[0].params.TAG",
    ]);
  });

  it("refuses templates too large to store with a run", async () => {
    const big = (name: string) =>
      jobTemplate({
        name,
        description: "x".repeat(1000),
        params: Array.from({ length: 50 }, (_, i) => ({ name: `P${i}`, description: "d".repeat(200) })),
      });
    const many = new Map(Array.from({ length: 9 }, (_, i) => [`j${i}`, big(`j${i}`)] as const));
    const p = pipeline({
      stages: [{ name: "a", tasks: [...many.keys()].map((job) => ({ name: `t-${job}`, job })) }],
    });
    expect(checkPipelineJobs(p, many).issues).toContainEqual(
      expect.objectContaining({ message: expect.stringMatching(/fit in a run/) }),
    );
  });
});

describe("multi-document files", () => {
  it("splits documents and reports each one's errors", async () => {
    const docs = parseTexts("name: a\n---\nname: [b\n---\n");
    expect(docs.map((d) => d.ok)).toEqual([true, false]);
  });
});
