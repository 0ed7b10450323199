import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { CliError } from "../client.js";
import { storeLogin } from "../config.js";
import type { CommandEnv } from "../context.js";

/** How long the loopback listener waits for the browser to come back. */
const WAIT_MS = 5 * 60_000;

/**
 * `hookflow login`: signs in through the browser and keeps a personal token for this hookflow URL. The browser
 * comes back to a listener on 127.0.0.1 (RFC 8252's loopback redirect) with a one-time code; with `--paste` (a
 * machine without a browser) the page shows the code and the person pastes it. Either way the code is only
 * worth a token together with the verifier this process holds (its SHA-256 went out as the challenge).
 */
export function registerLogin(program: Command, env: CommandEnv): void {
  program
    .command("login")
    .description("sign in through the browser and keep a personal token for the CLI")
    .option("--paste", "no browser on this machine: open the link elsewhere and paste the code it shows")
    .action(async (options: { paste?: boolean }) => {
      const ctx = env.context();
      const base = (ctx.io.env.HOOKFLOW_URL || "http://127.0.0.1:8787").replace(/\/+$/, "");
      const verifier = randomBytes(32).toString("base64url");
      const challenge = createHash("sha256").update(verifier).digest("base64url");
      const state = randomBytes(16).toString("base64url");
      const link = new URL(`${base}/auth/login`);
      link.searchParams.set("cli_challenge", challenge);
      link.searchParams.set("cli_state", state);
      let code: string;
      if (options.paste) {
        ctx.err(`Open this link in a browser, sign in, and paste the code it shows:\n  ${link}`);
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        code = (await rl.question("code: ")).trim();
        rl.close();
      } else {
        code = await loopbackCode(link, state, (line) => ctx.err(line));
      }
      const name = `hookflow login on ${hostname()}`.slice(0, 64);
      const created = await ctx.client.exchangeLoginCode({ code, verifier, name });
      const file = storeLogin(ctx.io.env, base, { token: created.token, name, expiresAt: created.expiresAt });
      ctx.out(`signed in; token ${created.id} kept in ${file} (expires ${created.expiresAt})`);
    });
}

function loopbackCode(link: URL, state: string, say: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      if (url.pathname !== "/callback") {
        res.writeHead(404).end();
        return;
      }
      const code = url.searchParams.get("code");
      if (url.searchParams.get("state") !== state || !code) {
        res.writeHead(400, { "content-type": "text/plain" }).end("not this login's answer");
        return;
      }
      res.writeHead(200, { "content-type": "text/plain" }).end("Signed in: return to your terminal.");
      clearTimeout(timer);
      server.close();
      resolve(code);
    });
    const timer = setTimeout(() => {
      server.close();
      reject(new CliError("no answer from the browser within 5 minutes: try `hookflow login --paste`"));
    }, WAIT_MS);
    server.listen(0, "127.0.0.1", () => {
      link.searchParams.set("cli_port", String((server.address() as AddressInfo).port));
      say(`Open this link in your browser to sign in (waiting for it on 127.0.0.1):\n  ${link}`);
    });
  });
}
