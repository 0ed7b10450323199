import type { Hono } from "hono";

/** Cookies by name, as a browser keeps them for one site (paths ignored: each site here is one server). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === "" || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  header(): string {
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join("; ");
  }
}

export interface SignedIn {
  /** The hookflow cookies after sign-in (session and CSRF). */
  jar: CookieJar;
  csrf: string;
  /** Where the callback sent the browser. */
  landed: string;
}

/**
 * Signs in through hookflow's /auth/login and the provider's own login form, over HTTP as a browser would:
 * hookflow's app in-process, the provider on loopback, each with its own cookies.
 */
export async function signInAs(
  app: Hono<never>,
  login: string,
  password: string,
  query = "",
): Promise<SignedIn> {
  const hookflow = new CookieJar();
  const started = await app.request(`/auth/login${query}`);
  if (started.status !== 302)
    throw new Error(`/auth/login answered ${started.status}: ${await started.text()}`);
  hookflow.take(started);
  let next = new URL(started.headers.get("location") as string);
  const provider = new CookieJar();
  const visit = async (url: URL, init: RequestInit = {}) => {
    const response = await fetch(url, {
      ...init,
      redirect: "manual",
      headers: { ...(init.headers as Record<string, string>), cookie: provider.header() },
    });
    provider.take(response);
    return response;
  };
  // Follow the provider's redirects to its login form, post the password, follow until it sends us back.
  let posted = false;
  for (let hops = 0; hops < 12; hops++) {
    if (next.origin !== new URL(started.headers.get("location") as string).origin) break;
    const page = await visit(next);
    if (page.status >= 300 && page.status < 400) {
      next = new URL(page.headers.get("location") as string, next);
      continue;
    }
    const html = await page.text();
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    if (!action || posted) throw new Error(`the provider answered ${page.status}: ${html.slice(0, 300)}`);
    posted = true;
    const answer = await visit(new URL(action, next), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ login, password }).toString(),
    });
    if (answer.status !== 303)
      throw new Error(`login as ${login} answered ${answer.status}: ${(await answer.text()).slice(0, 300)}`);
    next = new URL(answer.headers.get("location") as string, next);
  }
  const back = await app.request(`${next.pathname}${next.search}`, {
    headers: { cookie: hookflow.header() },
  });
  if (back.status === 200 && query.includes("cli_challenge")) {
    // `hookflow login --paste`: the page shows the one-time code.
    const code = /<pre id="code">([^<]+)<\/pre>/.exec(await back.text())?.[1] ?? "";
    return { jar: hookflow, csrf: "", landed: `code:${code}` };
  }
  if (back.status !== 302) throw new Error(`/auth/callback answered ${back.status}: ${await back.text()}`);
  hookflow.take(back);
  return {
    jar: hookflow,
    csrf: hookflow.get("hookflow_csrf") ?? "",
    landed: back.headers.get("location") ?? "",
  };
}
