import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../core/adapters/system.js";
import { ViewGrants } from "../../core/services/view-grants.js";
import { waitFor } from "../helpers/wait.js";
import { type Receiver, startFeishuReceiver } from "../receivers/index.js";
import { type StackProcess, startStackProcess } from "./stack-process.js";

/**
 * The console in a real browser: Debian's Chromium (`apt-get install chromium`; .ci/run installs it) driven by
 * playwright-core, against `npm start`'s stack in its own process, data directory and ports. Every wait is on a
 * condition (Playwright's locators wait for what they name); nothing sleeps.
 */
const CHROMIUM = process.env.HOOKFLOW_CHROMIUM ?? "/usr/bin/chromium";
// The flags this machine needs (env notes): no sandbox as root, and no background calls to a network it lacks.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const ROOT = new URL("../..", import.meta.url).pathname;
/** `HOOKFLOW_SCREENSHOTS=docs npx vitest run test/e2e/console.test.ts` refreshes the README's pictures. */
const SHOTS = process.env.HOOKFLOW_SCREENSHOTS === "docs" ? join(ROOT, "docs") : undefined;

const API_TOKEN = "console-e2e-token-0123456789";
const TOKEN_SECRET = "console-e2e-token-secret-0123456789";
const FEISHU_SECRET = "console-e2e-feishu-secret";

let dir: string;
let stack: StackProcess;
let feishu: Receiver;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "hookflow-console-"));
  feishu = await startFeishuReceiver({ secret: FEISHU_SECRET });
  [stack, browser] = await Promise.all([
    startStackProcess(["node", "--import", "tsx", "infra/local/main.ts"], {
      HOOKFLOW_DATA_DIR: join(dir, "data"),
      HOOKFLOW_API_TOKEN: API_TOKEN,
      HOOKFLOW_TOKEN_SECRET: TOKEN_SECRET,
      HOOKFLOW_LOG: "quiet",
    }),
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }),
  ]);
}, 180_000);

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  await browser?.close();
  await stack?.interrupt();
  await feishu?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** A fresh browser profile: its own cookies, as another person's browser would have. */
async function newPage(viewport = { width: 1280, height: 900 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  return page;
}

/** The password `npm start` printed for a demo person (new each start). */
function passwordOf(user: string): string {
  const password = new RegExp(`^  ${user}\\s+(\\S+)\\s`, "m").exec(stack.output())?.[1];
  if (!password) throw new Error(`npm start printed no password for ${user}:\n${stack.output()}`);
  return password;
}

/** Through the console's sign-in page, the provider's own form, and back to where it started. */
async function signIn(page: Page, user: string): Promise<void> {
  await page.getByRole("banner").getByRole("link", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Sign in with your company account" }).click();
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill(passwordOf(user));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator(".who", { hasText: user }).waitFor();
}

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${stack.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${API_TOKEN}`, ...init.headers },
  });

describe("the console", () => {
  it("opens a waiting run from its Feishu card, signs in an approver who approves and watches it finish, shows the failed task's log, no buttons to a viewer, and a clear page for a bad link", async () => {
    const pipeline = {
      name: "web-app",
      triggers: [{ provider: "github", repository: "acme/web-app" }],
      notify: [{ kind: "feishu", url: feishu.url, secret: FEISHU_SECRET, on: ["task.waiting"] }],
      stages: [
        {
          name: "check",
          parallel: true,
          tasks: [
            { name: "unit", run: { image: "node:22", command: ["sh", "-c", "echo 42 tests passed"] } },
            {
              name: "lint",
              ignoreFailed: true,
              run: { image: "node:22", command: ["sh", "-c", "echo 'src/app.ts:3 no-unused-vars'; exit 3"] },
            },
          ],
        },
        {
          name: "ship",
          tasks: [
            {
              name: "deploy",
              approval: { approvers: ["bob"] },
              // It runs until the test opens its gate: its log can be followed while it runs, whatever the load.
              run: {
                image: "alpine",
                command: [
                  "sh",
                  "-c",
                  `echo deploying; while [ ! -e '${join(dir, "gate")}' ]; do sleep 0.1; done; echo deployed`,
                ],
              },
            },
          ],
        },
      ],
    };
    const put = await api("/api/pipelines/web-app", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(pipeline),
    });
    expect(put.status).toBe(201);
    const started = await api("/api/pipelines/web-app/runs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ref: "main", commit: "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39" }),
    });
    expect(started.status).toBe(201);
    const runId = ((await started.json()) as { id: string }).id;

    // The card Feishu received (signature verified by the receiver) carries the run's link with its grant.
    const card = await waitFor(() => feishu.accepted.find((r) => r.body.includes(runId)), {
      what: "the Feishu card of the waiting deploy",
      timeoutMs: 60_000,
    });
    if (!card) throw new Error("no card");
    const link = new RegExp(`"(${stack.url}/runs/${runId}\\?grant=[^"]+)"`).exec(card.body)?.[1];
    expect(link, card.body).toBeDefined();

    // A chat reader, not signed in: the waiting task and its approvers, no logs, no buttons.
    const page = await newPage();
    const opened = await page.goto(link as string);
    expect(opened?.status()).toBe(200);
    await page.locator("#task-deploy .badge", { hasText: "waiting" }).waitFor();
    expect(await page.locator("#task-deploy .approvers").textContent()).toBe("bob");
    expect(await page.locator("#task-lint").textContent()).toContain("exited with code 3");
    expect(await page.locator("button[data-action]").count()).toBe(0);
    expect(await page.getByRole("link", { name: "Log" }).count()).toBe(0);

    // bob, a listed approver, signs in through the local OpenID provider and is back on the run.
    await signIn(page, "bob");
    expect(new URL(page.url()).pathname).toBe(`/runs/${runId}`);
    const approve = page.locator("#task-deploy button[data-action=approve]");
    await approve.waitFor();
    if (SHOTS) {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(SHOTS, "console-run-phone.png"), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 900 });
    }

    // Approve, and watch the run finish in the same document: no reload, no navigation.
    // A mark on this document's global object: a reload or a navigation would make a new one without it.
    await page.evaluate(() => {
      (globalThis as unknown as { sameDocument: boolean }).sameDocument = true;
    });
    await page.locator("#comment-deploy").fill("ship it");
    await approve.click();
    await page.locator("#task-deploy .badge", { hasText: "running" }).waitFor({ timeout: 90_000 });

    // Its log, followed in another tab while it runs: what it prints next appears without a reload.
    const follower = await page.context().newPage();
    await follower.goto(`${stack.url}/runs/${runId}?task=deploy`);
    await follower.locator("pre.log", { hasText: "deploying" }).waitFor();
    await follower.evaluate(() => {
      (globalThis as unknown as { sameDocument: boolean }).sameDocument = true;
    });
    writeFileSync(join(dir, "gate"), "");
    await follower.locator("pre.log", { hasText: "deployed" }).waitFor({ timeout: 90_000 });
    expect(
      await follower.evaluate(() => (globalThis as unknown as { sameDocument?: boolean }).sameDocument),
    ).toBe(true);

    await page.locator("#run-status", { hasText: "succeeded" }).waitFor({ timeout: 90_000 });
    await page.locator("#task-deploy", { hasText: "Approved by" }).waitFor();
    expect(await page.locator("#task-deploy").textContent()).toContain("ship it");
    expect(
      await page.evaluate(() => (globalThis as unknown as { sameDocument?: boolean }).sameDocument),
    ).toBe(true);

    // The failed task's log, one link away.
    await page.locator("#task-lint").getByRole("link", { name: "Log" }).click();
    await page.locator("pre.log", { hasText: "src/app.ts:3 no-unused-vars" }).waitFor();
    if (SHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, "console-run-desktop.png"), fullPage: true });
    }

    // carol is a viewer: she reads everything, logs included, and is offered no button.
    const viewer = await newPage({ width: 390, height: 844 });
    await viewer.goto(`${stack.url}/runs/${runId}`);
    await signIn(viewer, "carol");
    await viewer.locator("#run-status", { hasText: "succeeded" }).waitFor();
    await viewer.locator("#task-lint").getByRole("link", { name: "Log" }).waitFor();
    expect(await viewer.locator("button[data-action]").count()).toBe(0);

    // A link whose grant was changed, or has expired: a page that says so, not JSON, not a stack trace.
    const stranger = await newPage();
    const grant = new URL(link as string).searchParams.get("grant") as string;
    const tampered = `${grant.slice(0, -1)}${grant.endsWith("A") ? "B" : "A"}`;
    const refused = await stranger.goto(`${stack.url}/runs/${runId}?grant=${tampered}`);
    expect(refused?.status()).toBe(403);
    expect(refused?.headers()["content-type"]).toContain("text/html");
    await stranger.getByRole("heading", { name: "This link is not valid" }).waitFor();
    const lastWeek = Math.floor(Date.now() / 1000) - 7 * 86_400;
    const expired = new ViewGrants(TOKEN_SECRET, systemClock, 7).grant(runId, lastWeek);
    const old = await stranger.goto(`${stack.url}/runs/${runId}?grant=${expired}`);
    expect(old?.status()).toBe(403);
    await stranger.getByRole("heading", { name: "This link has expired" }).waitFor();
    expect(await stranger.content()).not.toMatch(/at \w+ \(|node_modules/);
    // The grant is for that one run: another run's page stays closed with it.
    const other = await stranger.goto(`${stack.url}/runs/00000000000000000000?grant=${grant}`);
    expect(other?.status()).toBe(403);
  }, 300_000);
});
