import { beforeAll, describe, expect, it } from "vitest";
import { BOOTSTRAP_TOKEN } from "../../core/model/index.js";
import type { Clock } from "../../core/ports.js";
import { ViewGrants } from "../../core/services/view-grants.js";
import { createApiApp } from "../../functions/api.js";
import { newRun, trigger } from "../helpers/factories.js";
import { CookieJar } from "../helpers/signin.js";
import { PUBLIC_URL, TEST_TOKEN_SECRET, testSystem } from "../helpers/system.js";

/**
 * The console's pages in-process, where no sign-in is configured: a run link's grant shows the run read-only,
 * the bootstrap token typed into the console's form makes it fully usable, and every refusal is a page.
 * test/e2e/console.test.ts drives the same pages in Chromium with sign-in.
 */
const BOOTSTRAP = "test-api-token";
let skewMs = 0;
const clock: Clock = { now: () => new Date(Date.now() + skewMs).toISOString() };
let app: ReturnType<typeof createApiApp>;
let runId: string;
let otherRunId: string;
/** A run whose pusher wrote markup into every field a push lets them choose. */
const HOSTILE = `<script>alert("owned")</script><img src=x onerror='alert(1)'>`;
const HOSTILE_RUN = "hostile-run";
let grants: ViewGrants;

const PIPELINE = {
  name: "shop",
  triggers: [{ provider: "github", repository: "acme/shop" }],
  stages: [
    { name: "build", tasks: [{ name: "compile", run: { image: "alpine", command: ["true"] } }] },
    {
      name: "ship",
      tasks: [
        {
          name: "deploy",
          needs: ["compile"],
          approval: { approvers: ["alice"] },
          run: { image: "alpine", command: ["true"] },
        },
      ],
    },
  ],
};

beforeAll(async () => {
  const system = await testSystem({ clock });
  app = createApiApp(system.api);
  const put = await app.request("/api/pipelines/shop", {
    method: "PUT",
    headers: { authorization: `Bearer ${BOOTSTRAP}`, "content-type": "application/json" },
    body: JSON.stringify(PIPELINE),
  });
  expect(put.status).toBe(201);
  const start = () =>
    system.api.runs.start(
      "shop",
      {
        ref: "main",
        commit: "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
        params: { GREETING: "hello-param" },
      },
      BOOTSTRAP_TOKEN,
    );
  runId = (await start()).id;
  otherRunId = (await start()).id;
  await system.stores.runs.saveRun(
    newRun({
      id: HOSTILE_RUN,
      trigger: trigger({
        repository: `acme/${HOSTILE}`,
        ref: `refs/heads/${HOSTILE}`,
        branch: HOSTILE,
        message: `${HOSTILE}\nmore`,
        author: HOSTILE,
      }),
    }),
  );
  grants = new ViewGrants(TEST_TOKEN_SECRET, clock, 7);
}, 60_000);

const grantLink = (id: string) => new URL(grants.link(PUBLIC_URL, id));
const page = async (path: string, init: RequestInit = {}) => {
  const response = await app.request(path, init);
  return { response, html: await response.text() };
};

describe("a run link's grant", () => {
  it("shows that run's stages and tasks without sign-in, nothing a grant does not cover, under a strict CSP", async () => {
    const link = grantLink(runId);
    const { response, html } = await page(`${link.pathname}${link.search}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    // Nothing inline for the CSP to refuse, nothing from another site.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc="\/console\/assets\/)/);
    expect(html).not.toMatch(/\sstyle=|\son[a-z]+=/);
    expect(html).not.toMatch(/src="https?:|<link[^>]+href="https?:/);
    // Links to the git host are for the reader to follow; loading them is not the page's doing.
    expect(html).toContain(
      'href="https://github.com/acme/shop/commit/4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"',
    );
    expect(html).toContain('id="task-compile"');
    expect(html).toContain('id="task-deploy"');
    expect(html).toContain("alice");
    expect(html).toContain("after compile");
    expect(html).not.toContain("hello-param");
    expect(html).not.toContain("data-action");
    expect(html).not.toContain("?task=");
    // Its live part is fetched with the same grant.
    const live = await page(`/runs/${runId}/live${link.search}`);
    expect(live.response.status).toBe(200);
    expect(live.html).toContain(`data-run-status=`);
    expect(live.html).not.toContain("<html");
  });

  it("is refused with a page that says why: changed, for another run, or expired", async () => {
    const link = grantLink(runId);
    const grant = link.searchParams.get("grant") as string;
    const changed = `${grant.slice(0, -1)}${grant.endsWith("A") ? "B" : "A"}`;
    for (const [path, heading] of [
      [`/runs/${runId}?grant=${changed}`, "This link is not valid"],
      [`/runs/${runId}?grant=garbage`, "This link is not valid"],
      [`/runs/${otherRunId}?grant=${grant}`, "This link is not valid"],
      [`/runs/${runId}/live?grant=${changed}`, "This link is not valid"],
    ] as const) {
      const { response, html } = await page(path);
      expect(response.status, path).toBe(403);
      expect(response.headers.get("content-type")).toContain("text/html");
      expect(html).toContain(heading);
      expect(html).not.toContain("hello-param");
    }
    skewMs = 8 * 86_400_000;
    try {
      const { response, html } = await page(`${link.pathname}${link.search}`);
      expect(response.status).toBe(403);
      expect(html).toContain("This link has expired");
    } finally {
      skewMs = 0;
    }
  });

  it("without any grant asks for sign-in: here, with a token (no sign-in is configured)", async () => {
    for (const path of [`/runs/${runId}`, "/runs", "/pipelines", "/pipelines/shop"]) {
      const { response, html } = await page(path);
      expect(response.status, path).toBe(401);
      expect(html).toContain('action="/console/login"');
      expect(html).not.toContain("/auth/login");
    }
  });
});

describe("the console with the bootstrap token", () => {
  async function tokenLogin(token: string, headers: Record<string, string> = { origin: PUBLIC_URL }) {
    return app.request(`${PUBLIC_URL}/console/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams({ token, return: `/runs/${runId}` }).toString(),
    });
  }

  it("refuses a wrong token and another site's form, and keeps a right one in an HTTP-only cookie", async () => {
    const wrong = await tokenLogin("not-the-token");
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("That token is not valid here");
    expect(wrong.headers.getSetCookie()).toEqual([]);
    const forged = await tokenLogin(BOOTSTRAP, { origin: "https://evil.example" });
    expect(forged.status).toBe(403);
    expect(forged.headers.getSetCookie()).toEqual([]);
    const right = await tokenLogin(BOOTSTRAP);
    expect(right.status).toBe(303);
    expect(right.headers.get("location")).toBe(`/runs/${runId}`);
    const token = right.headers.getSetCookie().find((c) => c.startsWith("hookflow_token="));
    expect(token).toMatch(/HttpOnly/);
    expect(token).toMatch(/SameSite=Lax/);
  });

  it("shows params and the operator's buttons, and acts through the API with the CSRF header only", async () => {
    const jar = new CookieJar();
    jar.take(await tokenLogin(BOOTSTRAP));
    const cookie = { cookie: jar.header() };
    const { response, html } = await page(`/runs/${runId}`, { headers: cookie });
    expect(response.status).toBe(200);
    expect(html).toContain("hello-param");
    expect(html).toContain('data-action="cancel"');
    // A service token is no person: no approve button, whatever the approvers say.
    expect(html).not.toContain('data-action="approve"');

    const cancel = (headers: Record<string, string>) =>
      app.request(`/api/runs/${runId}/cancel`, { method: "POST", headers: { ...cookie, ...headers } });
    expect((await cancel({})).status).toBe(403);
    expect((await cancel({ "x-hookflow-csrf": "guess" })).status).toBe(403);
    const done = await cancel({ "x-hookflow-csrf": jar.get("hookflow_csrf") as string });
    expect(done.status).toBe(200);
    expect(((await done.json()) as { status: string }).status).toBe("canceled");

    const runs = await page("/runs?pipeline=shop&status=canceled", { headers: cookie });
    expect(runs.html).toContain(`/runs/${runId}`);
    expect(runs.html).not.toContain(`/runs/${otherRunId}`);
    const other = await page("/runs?branch=release", { headers: cookie });
    expect(other.html).toContain("No runs match these filters");
    const pipelines = await page("/pipelines", { headers: cookie });
    expect(pipelines.html).toContain("acme/shop");
    const definition = await page("/pipelines/shop", { headers: cookie });
    expect(definition.html).toContain("approvers:");
  });

  it("answers a missing run, a bad id and a revoked cookie with pages, never JSON or a trace", async () => {
    const jar = new CookieJar();
    jar.take(await tokenLogin(BOOTSTRAP));
    const missing = await page("/runs/00000000000000000000", { headers: { cookie: jar.header() } });
    expect(missing.response.status).toBe(404);
    expect(missing.html).toContain("no run 00000000000000000000");
    const bad = await page("/runs/..%2F..%2Fetc", { headers: { cookie: jar.header() } });
    expect(bad.response.status).toBe(404);
    const stale = await page(`/runs/${runId}`, {
      headers: { cookie: "hookflow_token=hft_0000000000000000_x" },
    });
    expect(stale.response.status).toBe(401);
    expect(stale.html).toContain("no longer valid");
    for (const html of [missing.html, bad.html, stale.html])
      expect(html).not.toMatch(/at \w+ \(|node_modules/);
  });

  it("shows what a pusher wrote as text: markup in a commit message, author or branch opens no tag", async () => {
    const jar = new CookieJar();
    jar.take(await tokenLogin(BOOTSTRAP));
    const headers = { cookie: jar.header() };
    const link = grantLink(HOSTILE_RUN);
    const shown = [
      await page(`/runs/${HOSTILE_RUN}`, { headers }),
      await page(`${link.pathname}${link.search}`),
      await page(`/runs/${HOSTILE_RUN}/live`, { headers }),
      await page("/runs", { headers }),
    ];
    const escaped =
      "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;&lt;img src=x onerror=&#39;alert(1)&#39;&gt;";
    for (const { response, html } of shown) {
      expect(response.status).toBe(200);
      expect(html).toContain(escaped);
      expect(html).not.toContain("<img");
      expect(html).not.toContain("onerror='");
      expect(html).not.toMatch(/<script(?![^>]*\ssrc="\/console\/assets\/)/);
    }
    // The commit message (its first line) and the author, in the run's facts.
    expect(shown[0]?.html).toContain(`</code></a> ${escaped}</dd>`);
    expect(shown[0]?.html).toContain(`<dt>Author</dt><dd>${escaped}</dd>`);
  });

  it("serves its stylesheet and script itself, cached by their hash", async () => {
    const { html } = await page(`/runs/${runId}?grant=${grantLink(runId).searchParams.get("grant")}`);
    for (const path of html.match(/\/console\/assets\/[a-z]+\.[0-9a-f]{12}\.(css|js|svg)/g) ?? []) {
      const asset = await app.request(path);
      expect(asset.status, path).toBe(200);
      expect(asset.headers.get("cache-control")).toContain("immutable");
    }
    expect((await app.request("/console/assets/app.000000000000.js")).status).toBe(404);
  });
});
