import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LIMITS } from "../../core/model/index.js";
import { createApiApp } from "../../functions/api.js";
import { testSystem } from "../helpers/system.js";

/**
 * Issue 13's attacks on what a definition may say, sent as an outside user would: through the API app wired on
 * DynamoDB Local and the SQS emulator, with the API token. Each is refused with the path of what is wrong (or
 * bounded before any work), and nothing changes: the pipeline already written, the runs and the job templates
 * read the same after every attempt. Notifications here may not go to loopback (the default outside the local
 * stack), so every address form below is an attack.
 */
const TOKEN = "test-api-token";
const HIDDEN = "hidden-webhook-token-Zx81";
type System = Awaited<ReturnType<typeof testSystem>>;
let system: System;
let app: ReturnType<typeof createApiApp>;

const call = (method: string, path: string, body?: string, type = "application/yaml") =>
  app.request(path, { method, headers: { authorization: `Bearer ${TOKEN}`, "content-type": type }, body });
const put = (body: string, type?: string) => call("PUT", "/api/pipelines/target", body, type);

const TASK = 'stages: [{ name: s, tasks: [{ name: t, run: { image: alpine, command: ["true"] } }] }]';
const ORIGINAL = `
name: target
triggers: [{ provider: github, repository: acme/web-app, branches: [main] }]
notify: [{ kind: webhook, url: "https://hooks.example.com/in?token=${HIDDEN}", secret: "webhook-secret-1" }]
${TASK}
`;

/** What anyone can read back of the product's definitions and runs. */
async function everything(): Promise<string> {
  const paths = ["/api/pipelines/target", "/api/pipelines", "/api/jobs", "/api/runs"];
  return (await Promise.all(paths.map(async (p) => `${p} ${await (await call("GET", p)).text()}`))).join(
    "\n",
  );
}

async function issuesOf(res: Response): Promise<string[]> {
  const body = (await res.json()) as { issues?: Array<{ path: string }> };
  return (body.issues ?? []).map((i) => i.path);
}

let before: string;
beforeAll(async () => {
  system = await testSystem({ env: { HOOKFLOW_ALLOW_LOOPBACK_TARGETS: "0" } });
  app = createApiApp(system.api);
  expect((await put(ORIGINAL)).status).toBe(201);
  for (let i = 0; i < 3; i++)
    expect(
      (await call("POST", "/api/pipelines/target/runs", `{"commit":"${"a".repeat(40)}"}`, "application/json"))
        .status,
    ).toBe(201);
  before = await everything();
});

// After every attack: nothing written, nothing started, and the webhook URL's token still never shown.
afterAll(async () => {
  const after = await everything();
  expect(after).toBe(before);
  expect(after).not.toContain(HIDDEN);
});

describe("attacks on /api bodies and parsing", () => {
  it("refuses a body over the /api limit before reading it as YAML", async () => {
    const res = await put(`${ORIGINAL}\n# ${"x".repeat(200 * 1024)}\n`);
    expect(res.status).toBe(413);
    expect(await everything()).toBe(before);
  });

  it("refuses a 40,000-key YAML before parsing, and answers the largest document that fits after one linear pass", async () => {
    const keys = (n: number) => Array.from({ length: n }, (_, i) => `k${i}: 1`).join("\n");
    expect((await put(`${ORIGINAL}${keys(40_000)}\n`)).status).toBe(413);
    // As many keys as the text limit allows: refused as unknown fields, not worked on quadratically.
    let many = ORIGINAL;
    for (let i = 0; many.length + 16 < LIMITS.definitionTextBytes; i++) many += `k${i}: 1\n`;
    const res = await put(many);
    expect(res.status).toBe(400);
    // Duplicates among them are found too (the check the issue saw grow with the square of the keys).
    expect((await put(`${many.slice(0, -20)}\nk1: 2\n`)).status).toBe(400);
    expect(await everything()).toBe(before);
  });

  it("refuses nesting deeper than the definition limit", async () => {
    const deep = `${"[".repeat(LIMITS.definitionDepth + 10)}${"]".repeat(LIMITS.definitionDepth + 10)}`;
    for (const [text, type] of [
      [`name: target\nx: ${deep}\n`, "application/yaml"],
      [`{"name":"target","x":${deep}}`, "application/json"],
    ] as const)
      expect((await put(text, type)).status).toBe(400);
    expect(await everything()).toBe(before);
  });

  it("refuses a backtracking trigger glob at apply, naming it", async () => {
    const stars = "a*".repeat(LIMITS.wildcardsPerGlob + 4);
    const res = await put(
      ORIGINAL.replace("branches: [main]", `branches: ["${stars}b"], paths: ["${stars}"]`),
    );
    expect(res.status).toBe(400);
    expect(await issuesOf(res)).toEqual(
      expect.arrayContaining(["triggers[0].branches[0]", "triggers[0].paths[0]"]),
    );
    expect(await everything()).toBe(before);
  });

  it("refuses a tampered pagination cursor with 400", async () => {
    const first = (await (await call("GET", "/api/runs?limit=1")).json()) as { cursor?: string };
    expect(first.cursor).toBeTruthy();
    const raw = Buffer.from(first.cursor as string, "base64url").toString("utf8");
    const tampered = [
      "not-a-cursor",
      Buffer.from(raw.replace(/"S":"[^"]*"/, '"S":""'), "utf8").toString("base64url"),
      Buffer.from(raw.replace(/"S":"/, '"N":"'), "utf8").toString("base64url"),
      Buffer.from('{"pk":{"S":"RUN#x"}}', "utf8").toString("base64url"),
    ];
    for (const cursor of tampered) {
      const res = await call("GET", `/api/runs?limit=1&cursor=${cursor}`);
      expect(res.status, cursor).toBe(400);
    }
    expect((await call("GET", `/api/runs?limit=1&cursor=${first.cursor}`)).status).toBe(200);
  });
});

describe("attacks through what a definition names", () => {
  const SSRF = [
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/hook",
    "http://localhost:9001/hook",
    "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
    "http://0x7f000001/hook",
    "http://2130706433/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "https://[fd00::1]/hook",
  ];
  const LOOPBACK = /localhost|127\.0\.0\.1|0x7f000001|2130706433/;

  it("refuses private, link-local, loopback and Lambda runtime notify URLs in every form, each by its path", async () => {
    // Loopback is refused by this deployment's rule, checked once the definition is otherwise valid: sent apart.
    for (const urls of [SSRF.filter((u) => !LOOPBACK.test(u)), SSRF.filter((u) => LOOPBACK.test(u))]) {
      const notify = urls.map((url) => `  - { kind: webhook, url: "${url}" }`).join("\n");
      const res = await put(`name: target\nnotify:\n${notify}\n${TASK}\n`);
      expect(res.status).toBe(400);
      expect(await issuesOf(res)).toEqual(urls.map((_, i) => `notify[${i}].url`));
    }
    // A robot URL is held to the same rules.
    const robot = await put(
      `name: target\nnotify: [{ kind: wecom, url: "https://10.1.2.3/cgi-bin/webhook/send" }]\n${TASK}\n`,
    );
    expect(robot.status).toBe(400);
    expect(await everything()).toBe(before);
  });

  it("refuses at apply what would fail only later: user:password, NUL, a sensitive param in a template field", async () => {
    const userinfo = await put(
      ORIGINAL.replace("https://hooks.example.com", "https://user:pa55@hooks.example.com"),
    );
    expect(userinfo.status).toBe(400);
    expect(await issuesOf(userinfo)).toEqual(["notify[0].url"]);

    const nul = await put(
      JSON.stringify({
        name: "target",
        params: { MODE: "a\u0000b" },
        stages: [
          {
            name: "s",
            tasks: [{ name: "t", run: { image: "alpine", command: ["sh", "-c", "true\u0000rm"] } }],
          },
        ],
      }),
      "application/json",
    );
    expect(nul.status).toBe(400);
    expect(await issuesOf(nul)).toEqual(
      expect.arrayContaining(["params.MODE", "stages[0].tasks[0].run.command[2]"]),
    );

    const job = `
name: leaky
params: [{ name: TOKEN, sensitive: true }]
template:
  apiVersion: batch/v1
  kind: Job
  spec:
    template:
      spec:
        containers: [{ name: c, image: "registry/\${TOKEN}", command: ["true"] }]
`;
    const leaky = await call("PUT", "/api/jobs/leaky", job);
    expect(leaky.status).toBe(400);
    expect((await issuesOf(leaky)).join()).toMatch(/image/);
    expect((await call("GET", "/api/jobs/leaky")).status).toBe(404);
    expect(await everything()).toBe(before);
  });

  it("shows a webhook notify URL masked, and a write of the masked form back keeps the stored URL", async () => {
    const shown = (await (await call("GET", "/api/pipelines/target")).json()) as {
      notify: Array<{ url: string; secret?: string }>;
    };
    expect(JSON.stringify(shown)).not.toMatch(new RegExp(`${HIDDEN}|webhook-secret-1`));
    const echoed = await put(JSON.stringify(shown), "application/json");
    expect([200, 201]).toContain(echoed.status);
    const stored = await system.stores.definitions.getPipeline("target");
    expect(JSON.stringify(stored)).toContain(HIDDEN);
    before = await everything(); // the write back is a write: what is read from now on is compared with it
  });
});
