import type { Context, Hono } from "hono";
import type { Principal } from "../../core/model/index.js";
import type { Logger } from "../../core/ports.js";
import type { RunControl } from "../../core/services/control.js";
import type { DefinitionService } from "../../core/services/definitions.js";
import type { ViewGrants } from "../../core/services/view-grants.js";
import type { Caller } from "../auth.js";
import { limitBody } from "../http.js";

export interface ConsoleDeps {
  runs: RunControl;
  definitions: DefinitionService;
  /** Who the browser is (session, console token cookie), or undefined. */
  identify: (c: Context) => Promise<Caller | undefined>;
  /** Who a token typed into the console's form is (bootstrap or personal), or undefined. */
  tokenPrincipal: (token: string) => Promise<Principal | undefined>;
  /** Checks the grant in a run link; absent without HOOKFLOW_TOKEN_SECRET (then every link needs sign-in). */
  grants?: ViewGrants;
  /** Whether /auth/login leads anywhere (HOOKFLOW_OIDC_ISSUER). */
  signInConfigured: boolean;
  log: Logger;
}

/** What a page knows of its reader: who (if anyone) and what they may do. */
export interface Reader {
  principal?: Principal;
  /** Set when a cookie proved the reader: the console's script sends it back as X-Hookflow-CSRF. */
  csrf?: string;
  /** A session or token that was presented but is no longer valid (expired): said on the sign-in page. */
  expired?: string;
}

type Pages = typeof import("./pages.js");

/**
 * The console: HTML pages served by the API's app (`GET /runs`, `/runs/{id}`, `/pipelines`), its two static
 * files, and its token sign-in form. Everything it renders is imported on the first console request, so the
 * API's cold start loads none of it (the pages and their JSX, the stylesheet and script).
 */
export function mountConsole(app: Hono<never>, deps: ConsoleDeps): void {
  let pages: Promise<Pages> | undefined;
  const load = () => {
    pages ??= import("./pages.js").catch((error: unknown) => {
      pages = undefined;
      throw error;
    });
    return pages;
  };
  const page =
    (render: (pages: Pages, c: Context, deps: ConsoleDeps) => Promise<Response> | Response) =>
    async (c: Context) => {
      const loaded = await load();
      try {
        return await render(loaded, c, deps);
      } catch (error) {
        return loaded.errorPage(c, error, deps);
      }
    };
  app.use("/console/*", limitBody(4096, "a console form"));
  app.get(
    "/console/assets/:file",
    page((p, c) => p.asset(c)),
  );
  app.get(
    "/console/login",
    page((p, c, d) => p.loginPage(c, d)),
  );
  app.post(
    "/console/login",
    page((p, c, d) => p.tokenLogin(c, d)),
  );
  app.post(
    "/console/logout",
    page((p, c) => p.logout(c)),
  );
  app.get(
    "/runs",
    page((p, c, d) => p.runsPage(c, d)),
  );
  app.get(
    "/runs/:id",
    page((p, c, d) => p.runPage(c, d)),
  );
  app.get(
    "/runs/:id/live",
    page((p, c, d) => p.runLive(c, d)),
  );
  app.get(
    "/pipelines",
    page((p, c, d) => p.pipelinesPage(c, d)),
  );
  app.get(
    "/pipelines/:name",
    page((p, c, d) => p.pipelinePage(c, d)),
  );
}
