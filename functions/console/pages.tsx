/** @jsxRuntime classic */
/** @jsx h */
/** @jsxFrag Fragment */
import type { Context } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import type { RunView, TaskView } from "../../core/engine/index.js";
import { NotFoundError, UnauthorizedError } from "../../core/errors.js";
import {
  isActiveTask,
  isTerminalRun,
  type Pipeline,
  type Principal,
  principalName,
  type Role,
  RunStatus,
  roleIncludes,
} from "../../core/model/index.js";
import { CSRF_COOKIE, SESSION_COOKIE, TOKEN_COOKIE, tokenCsrf } from "../auth.js";
import { statusOf } from "../http.js";
import { ASSETS, CSS_PATH, ICON_PATH, JS_PATH } from "./assets.js";
// biome-ignore lint/correctness/noUnusedImports: h and Fragment are what the JSX compiles to (the pragmas above).
import { type Child, type FC, Fragment, h, type PropsWithChildren } from "./html.js";
import type { ConsoleDeps, Reader } from "./routes.js";

// ---------------------------------------------------------------- the frame every page shares

const SECURITY_HEADERS: Record<string, string> = {
  // Nothing inline, nothing from elsewhere: the one script and stylesheet are files of this origin.
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  // A run link carries its grant in the query: no Referer may take it to a git host or anywhere else.
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
};

function html(c: Context, body: Child, status = 200): Response {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  return c.html(`<!doctype html>${String(body)}`, status as 200);
}

const Layout: FC<PropsWithChildren<{ title: string; reader?: Reader; here: string }>> = (props) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{props.title} · hookflow</title>
      <link rel="stylesheet" href={CSS_PATH} />
      <link rel="icon" href={ICON_PATH} type="image/svg+xml" />
      <script type="module" src={JS_PATH} />
    </head>
    <body>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/runs">
          hookflow
        </a>
        <nav aria-label="Main">
          <a href="/runs">Runs</a>
          <a href="/pipelines">Pipelines</a>
        </nav>
        <div class="who">
          {props.reader?.principal ? (
            <>
              <span>
                {principalName(props.reader.principal)}
                {props.reader.principal.role ? ` (${props.reader.principal.role})` : " (no role)"}
              </span>
              <form method="post" action="/console/logout" class="inline">
                <button type="submit">Sign out</button>
              </form>
            </>
          ) : (
            <a class="button" href={`/console/login?return=${encodeURIComponent(props.here)}`}>
              Sign in
            </a>
          )}
        </div>
      </header>
      <main id="main">
        <p id="notice" role="status" aria-live="polite" />
        {props.children}
      </main>
    </body>
  </html>
);

// ---------------------------------------------------------------- who reads

async function readerOf(c: Context, deps: ConsoleDeps): Promise<Reader> {
  try {
    const caller = await deps.identify(c);
    return caller ? { principal: caller.principal, ...(caller.csrf && { csrf: caller.csrf }) } : {};
  } catch (error) {
    if (error instanceof UnauthorizedError) return { expired: error.message };
    throw error;
  }
}

const can = (reader: Reader, role: Role) => roleIncludes(reader.principal?.role, role);

/** A page for one who has not shown who they are (or whose session ended): where to sign in. */
function signInPage(c: Context, deps: ConsoleDeps, reader: Reader, why: string, status = 401): Response {
  const here = c.req.path;
  return html(
    c,
    <Layout title="Sign in" reader={reader} here={here}>
      <h1>Sign in to continue</h1>
      <p>{why}</p>
      {reader.expired && <p class="muted">{reader.expired}</p>}
      <SignInChoices deps={deps} returnTo={here} />
    </Layout>,
    status,
  );
}

const SignInChoices: FC<{ deps: ConsoleDeps; returnTo: string }> = ({ deps, returnTo }) => (
  <>
    {deps.signInConfigured && (
      <p>
        <a class="button primary" href={`/auth/login?return=${encodeURIComponent(returnTo)}`}>
          Sign in with your company account
        </a>
      </p>
    )}
    <form class="login" method="post" action="/console/login">
      <input type="hidden" name="return" value={returnTo} />
      <label>
        {deps.signInConfigured ? "Or an API token" : "API token (HOOKFLOW_API_TOKEN, or a personal token)"}
        <input name="token" type="password" autocomplete="off" required maxlength={256} />
      </label>
      <button type="submit">Use this token</button>
      <p class="muted">
        The token is kept in an HTTP-only cookie of this site until you sign out; it never appears in a URL.
      </p>
    </form>
  </>
);

export async function loginPage(c: Context, deps: ConsoleDeps): Promise<Response> {
  const reader = await readerOf(c, deps);
  const returnTo = safePath(c.req.query("return"));
  return html(
    c,
    <Layout title="Sign in" reader={reader} here={returnTo}>
      <h1>Sign in</h1>
      <SignInChoices deps={deps} returnTo={returnTo} />
    </Layout>,
  );
}

/** The token form: a token that works (bootstrap or personal) is kept in an HTTP-only cookie, never in a URL. */
export async function tokenLogin(c: Context, deps: ConsoleDeps): Promise<Response> {
  sameOrigin(c);
  const form = await c.req.parseBody();
  const token = typeof form.token === "string" ? form.token.trim() : "";
  const returnTo = safePath(typeof form.return === "string" ? form.return : undefined);
  const caller = token && token.length <= 256 ? await deps.tokenPrincipal(token) : undefined;
  if (!caller)
    return html(
      c,
      <Layout title="Sign in" here={returnTo}>
        <h1>Sign in</h1>
        <p role="alert" class="cause">
          That token is not valid here (neither HOOKFLOW_API_TOKEN nor an unexpired, unrevoked personal
          token).
        </p>
        <SignInChoices deps={deps} returnTo={returnTo} />
      </Layout>,
      401,
    );
  const secure = new URL(c.req.url).protocol === "https:";
  setCookie(c, TOKEN_COOKIE, token, {
    httpOnly: true,
    sameSite: "Lax",
    path: "/",
    secure,
    maxAge: 12 * 3600,
  });
  setCookie(c, CSRF_COOKIE, tokenCsrf(token), { sameSite: "Strict", path: "/", secure, maxAge: 12 * 3600 });
  return c.redirect(returnTo, 303);
}

export function logout(c: Context): Response {
  sameOrigin(c);
  for (const name of [TOKEN_COOKIE, SESSION_COOKIE, CSRF_COOKIE]) deleteCookie(c, name, { path: "/" });
  return c.redirect("/console/login", 303);
}

/**
 * A form of this console, not of another site: the browser says where a POST comes from (Origin, or
 * Sec-Fetch-Site). The token cookie is SameSite=Lax, as the session's, so that a link opened from a chat still
 * shows who one is; changes made with it need X-Hookflow-CSRF, which another site cannot read.
 */
function sameOrigin(c: Context): void {
  const origin = c.req.header("origin");
  const site = c.req.header("sec-fetch-site");
  const here = new URL(c.req.url).origin;
  if (
    (origin !== undefined && origin !== here && origin !== "null") ||
    (site && site !== "same-origin" && site !== "none")
  )
    throw new ForbiddenPage("This form can only be sent from hookflow's own pages.");
}

class ForbiddenPage extends Error {}

function safePath(path: string | undefined): string {
  return path && /^\/(?![/\\])[\x21-\x7e]*$/.test(path) && path.length <= 512 ? path : "/runs";
}

// ---------------------------------------------------------------- a run

type Level = "full" | "grant";

/** The reader and what they may see of this run: everything (signed in with a role), or what the link grants. */
async function runAccess(
  c: Context,
  deps: ConsoleDeps,
  id: string,
): Promise<{ reader: Reader; level: Level; grant?: string } | Response> {
  const reader = await readerOf(c, deps);
  if (can(reader, "viewer")) return { reader, level: "full" };
  const grant = c.req.query("grant");
  if (grant !== undefined) {
    const checked = deps.grants?.check(id, grant) ?? { kind: "invalid" as const };
    if (checked.kind === "valid") return { reader, level: "grant", grant };
    return grantRefused(c, deps, reader, checked.kind === "expired" ? checked.expiredAt : undefined);
  }
  return signInPage(
    c,
    deps,
    reader,
    reader.principal
      ? `${principalName(reader.principal)} has no role here (HOOKFLOW_ROLES): ask an admin, or open the link a notification gave you.`
      : "This run's page needs sign-in, or the link from its notification.",
    reader.principal ? 403 : 401,
  );
}

function grantRefused(c: Context, deps: ConsoleDeps, reader: Reader, expiredAt?: string): Response {
  const here = c.req.path;
  return html(
    c,
    <Layout title={expiredAt ? "Link expired" : "Link not valid"} reader={reader} here={here}>
      <h1>{expiredAt ? "This link has expired" : "This link is not valid"}</h1>
      <p role="alert" class="cause">
        {expiredAt
          ? `The link to this run let its readers see it until ${fmtTime(expiredAt)}.`
          : "The link to this run was changed or cut short, or it was made by another hookflow: it does not let anyone see the run."}
      </p>
      <p>Sign in to see the run, or ask for a new notification.</p>
      <SignInChoices deps={deps} returnTo={here} />
    </Layout>,
    403,
  );
}

export async function runPage(c: Context, deps: ConsoleDeps): Promise<Response> {
  const id = runId(c);
  const access = await runAccess(c, deps, id);
  if (access instanceof Response) return access;
  const run = await deps.runs.get(id);
  const { reader, level } = access;
  const liveUrl = `/runs/${encodeURIComponent(id)}/live${access.grant ? `?grant=${encodeURIComponent(access.grant)}` : ""}`;
  const chosen = level === "full" ? chosenLog(c, run) : undefined;
  const logText = chosen ? await readLog(deps, run, chosen) : undefined;
  return html(
    c,
    <Layout title={`[${run.status}] ${run.pipeline} run`} reader={reader} here={c.req.path}>
      <h1>
        <a href={`/pipelines/${run.pipeline}`}>{run.pipeline}</a> run <code>{run.id}</code>
      </h1>
      {level === "grant" && (
        <p class="muted">
          You see this run through its link.{" "}
          <a href={`/console/login?return=${encodeURIComponent(c.req.path)}`}>Sign in</a> for its logs,
          outputs and params, and to act on it.
        </p>
      )}
      <div id="live" data-live={liveUrl}>
        {RunBody({ run, reader, level })}
      </div>
      {chosen && <LogSection run={run} chosen={chosen} text={logText ?? ""} />}
    </Layout>,
  );
}

/** The part of a run's page that changes: what the page's script fetches every two seconds while it is live. */
export async function runLive(c: Context, deps: ConsoleDeps): Promise<Response> {
  const id = runId(c);
  const access = await runAccess(c, deps, id);
  if (access instanceof Response) return access;
  const run = await deps.runs.get(id);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  return c.html(String(RunBody({ run, reader: access.reader, level: access.level })));
}

function runId(c: Context): string {
  const id = c.req.param("id") ?? "";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new NotFoundError(`no run ${id.slice(0, 64)}`);
  return id;
}

const TERMINAL_TEXT: Record<string, string> = {
  succeeded: "✓",
  failed: "✗",
  canceled: "–",
  skipped: "–",
  waiting: "!",
  running: "●",
  queued: "○",
  pending: "○",
};

const Badge: FC<{ status: string; id?: string }> = ({ status, id }) => (
  <span class={`badge s-${status}`} id={id}>
    <span aria-hidden="true">{TERMINAL_TEXT[status] ?? ""} </span>
    {status}
  </span>
);

function RunBody({ run, reader, level }: { run: RunView; reader: Reader; level: Level }) {
  const person = reader.principal?.kind === "person" ? reader.principal : undefined;
  const operator = level === "full" && can(reader, "operator");
  const ended = isTerminalRun(run.status);
  const failed = run.stages.flatMap((s) => s.tasks).find((t) => t.status === "failed");
  const api = `/api/runs/${encodeURIComponent(run.id)}`;
  return (
    <div data-run-status={run.status}>
      <div class="summary">
        <Badge status={run.status} id="run-status" />
        <span class="muted">{run.reason}</span>
        <Duration from={run.startedAt} to={run.finishedAt} live={!ended} />
      </div>
      {(run.status === "failed" || run.status === "canceled") && (
        <div class="cause" role="alert">
          <strong>{run.status === "failed" ? "Why it failed: " : "Why it was canceled: "}</strong>
          {failed ? (
            <>
              task <a href={`#task-${failed.name}`}>{failed.name}</a>
              {failed.message ? `: ${failed.message}` : ` (${failed.reason})`}
            </>
          ) : (
            (run.message ?? run.reason)
          )}
        </div>
      )}
      <Trigger run={run} />
      {operator && (
        <div class="actions">
          {!ended && (
            <ActionButton url={`${api}/cancel`} action="cancel" confirm="Cancel this run?" danger>
              Cancel run
            </ActionButton>
          )}
          {ended && (
            <ActionButton url={`${api}/rerun`} action="rerun" body={{}}>
              Rerun all
            </ActionButton>
          )}
          {ended && run.status !== "succeeded" && (
            <ActionButton url={`${api}/rerun`} action="rerun-failed" body={{ failedOnly: true }}>
              Rerun failed
            </ActionButton>
          )}
        </div>
      )}
      <h2 id="graph-heading">Stages</h2>
      <ol class="graph" aria-labelledby="graph-heading">
        {run.stages.map((stage) => (
          <li class="stage">
            <header>
              <h3>
                {stage.finally ? "finally" : stage.name}
                <span class="muted">
                  {stage.parallel ? " · parallel" : stage.tasks.length > 1 ? " · in order" : ""}
                </span>
              </h3>
              <Badge status={stage.status} />
            </header>
            <ul class="tasks">
              {stage.tasks.map((task) => (
                <TaskCard
                  run={run}
                  task={task}
                  level={level}
                  person={person}
                  operator={operator}
                  ended={ended}
                />
              ))}
            </ul>
          </li>
        ))}
      </ol>
      {level === "full" && Object.keys(run.params).length > 0 && (
        <>
          <h2>Params</h2>
          <dl class="facts">
            {Object.entries(run.params).map(([k, v]) => (
              <>
                <dt>
                  <code>{k}</code>
                </dt>
                <dd>
                  <code>{v}</code>
                </dd>
              </>
            ))}
          </dl>
        </>
      )}
    </div>
  );
}

const TaskCard: FC<{
  run: RunView;
  task: TaskView;
  level: Level;
  person: Extract<Principal, { kind: "person" }> | undefined;
  operator: boolean;
  ended: boolean;
}> = ({ run, task, level, person, operator, ended }) => {
  const api = `/api/runs/${encodeURIComponent(run.id)}/tasks/${encodeURIComponent(task.name)}`;
  const awaiting = task.status === "waiting" && task.reason === "AwaitingApproval";
  const names = person
    ? [person.identity.username, person.identity.email].filter(Boolean).map((n) => n?.toLowerCase())
    : [];
  const mayApprove =
    level === "full" && awaiting && (task.approvers ?? []).some((a) => names.includes(a.toLowerCase()));
  return (
    <li
      class={`task s-${task.status}`}
      id={`task-${task.name}`}
      data-active={String(isActiveTask(task.status))}
    >
      <div class="line">
        <strong>{task.name}</strong>
        <Badge status={task.status} />
      </div>
      <p class="meta">
        <Duration
          from={task.startedAt ?? task.queuedAt}
          to={task.finishedAt}
          live={isActiveTask(task.status)}
        />
        {task.attempt > 1 && ` · attempt ${task.attempt}`}
        {task.needs && ` · after ${task.needs.join(", ")}`}
        {task.reason.toLowerCase() !== task.status && ` · ${task.reason}`}
      </p>
      {task.message && <p class="msg">{task.message}</p>}
      {(task.approvers || task.approval) && (
        <dl>
          {task.approvers && (
            <>
              <dt>Approvers</dt>
              <dd class="approvers">{task.approvers.join(", ")}</dd>
            </>
          )}
          {task.approval && (
            <>
              <dt>{task.approval.decision === "approved" ? "Approved by" : "Denied by"}</dt>
              <dd>
                {task.approval.by} at <time datetime={task.approval.at}>{fmtTime(task.approval.at)}</time>
                {task.approval.comment && <>: “{task.approval.comment}”</>}
              </dd>
            </>
          )}
        </dl>
      )}
      {level === "full" && Object.keys(task.outputs).length > 0 && (
        <dl class="outputs">
          {Object.entries(task.outputs).map(([k, v]) => (
            <>
              <dt>
                <code>{k}</code>
              </dt>
              <dd>
                <code>{v}</code>
              </dd>
            </>
          ))}
        </dl>
      )}
      {mayApprove && (
        <div class="actions" data-form>
          <label class="skip" for={`comment-${task.name}`}>
            Comment on {task.name}
          </label>
          <input
            id={`comment-${task.name}`}
            name="comment"
            placeholder="Comment (optional)"
            maxlength={1000}
          />
          <ActionButton url={`${api}/approve`} action="approve" primary>
            Approve
          </ActionButton>
          <ActionButton
            url={`${api}/deny`}
            action="deny"
            danger
            confirm={`Deny ${task.name}? The task fails.`}
          >
            Deny
          </ActionButton>
        </div>
      )}
      {level === "full" && (operator || task.attempt > 0) && (
        <div class="actions">
          {task.attempt > 0 && (
            <a href={`/runs/${encodeURIComponent(run.id)}?task=${encodeURIComponent(task.name)}#log`}>Log</a>
          )}
          {operator && !ended && isActiveTask(task.status) && (
            <ActionButton url={`${api}/cancel`} action="cancel-task" danger confirm={`Cancel ${task.name}?`}>
              Cancel task
            </ActionButton>
          )}
          {operator && ended && (
            <ActionButton
              url={`/api/runs/${encodeURIComponent(run.id)}/rerun`}
              action="rerun-task"
              body={{ task: task.name }}
            >
              Rerun task
            </ActionButton>
          )}
        </div>
      )}
    </li>
  );
};

const ActionButton: FC<
  PropsWithChildren<{
    url: string;
    action: string;
    body?: Record<string, unknown>;
    confirm?: string;
    primary?: boolean;
    danger?: boolean;
  }>
> = (p) => (
  <button
    type="button"
    class={p.primary ? "primary" : p.danger ? "danger" : undefined}
    data-action={p.action}
    data-url={p.url}
    data-body={p.body ? JSON.stringify(p.body) : undefined}
    data-confirm={p.confirm}
  >
    {p.children}
  </button>
);

const Trigger: FC<{ run: RunView }> = ({ run }) => {
  const t = run.trigger;
  const web = repositoryWebUrl(t.cloneUrl);
  const commitUrl = web && t.commit ? commitLink(t.provider, web, t.commit) : undefined;
  const pr = t.pullRequest;
  return (
    <dl class="facts">
      <dt>Repository</dt>
      <dd>{web ? <a href={web}>{t.repository}</a> : t.repository || "—"}</dd>
      <dt>{pr ? "Pull request" : t.tag ? "Tag" : "Branch"}</dt>
      <dd>
        {pr ? (
          <>
            {web ? <a href={prLink(t.provider, web, pr.number)}>#{pr.number}</a> : `#${pr.number}`} {t.branch}{" "}
            → {pr.baseBranch}
            {pr.fork && " (from a fork)"}
          </>
        ) : (
          (t.tag ?? t.branch ?? t.ref)
        )}
      </dd>
      <dt>Commit</dt>
      <dd>
        {t.commit ? (
          commitUrl ? (
            <a href={commitUrl}>
              <code>{t.commit.slice(0, 12)}</code>
            </a>
          ) : (
            <code>{t.commit.slice(0, 12)}</code>
          )
        ) : (
          "—"
        )}
        {t.message && <> {firstLine(t.message)}</>}
      </dd>
      <dt>Author</dt>
      <dd>{t.author || "—"}</dd>
      <dt>Event</dt>
      <dd>
        {t.event} · created <time datetime={run.createdAt}>{fmtTime(run.createdAt)}</time>
      </dd>
    </dl>
  );
};

const Duration: FC<{ from?: string; to?: string; live: boolean }> = ({ from, to, live }) => {
  if (!from) return <span class="muted">not started</span>;
  if (live && !to)
    return (
      <span>
        running for <span data-since={from}>{fmtDuration(Date.now() - Date.parse(from))}</span>
      </span>
    );
  return <span>took {fmtDuration(Date.parse(to ?? from) - Date.parse(from))}</span>;
};

// ---------------------------------------------------------------- logs

interface ChosenLog {
  task: TaskView;
  attempt: number;
}

function chosenLog(c: Context, run: RunView): ChosenLog | undefined {
  const name = c.req.query("task");
  if (name === undefined) return undefined;
  const task = run.stages.flatMap((s) => s.tasks).find((t) => t.name === name);
  if (!task) throw new NotFoundError(`no task ${name.slice(0, 64)} in run ${run.id}`);
  const asked = Number(c.req.query("attempt") ?? task.attempt);
  const attempt = Number.isInteger(asked) && asked >= 1 && asked <= task.attempt ? asked : task.attempt;
  return { task, attempt };
}

async function readLog(deps: ConsoleDeps, run: RunView, chosen: ChosenLog): Promise<string> {
  if (chosen.task.attempt === 0) return `${chosen.task.name} has not run yet.`;
  try {
    return await deps.runs.logs(run.id, chosen.task.name, { attempt: chosen.attempt });
  } catch (error) {
    if (statusOf(error) < 500) return `(${(error as Error).message})`;
    throw error;
  }
}

const LogSection: FC<{ run: RunView; chosen: ChosenLog; text: string }> = ({ run, chosen, text }) => {
  const { task, attempt } = chosen;
  const base = `/runs/${encodeURIComponent(run.id)}?task=${encodeURIComponent(task.name)}`;
  const followUrl = `/api/runs/${encodeURIComponent(run.id)}/tasks/${encodeURIComponent(task.name)}/logs?attempt=${attempt}`;
  return (
    <section id="log" aria-labelledby="log-heading">
      <h2 id="log-heading">
        Log of {task.name}, attempt {attempt}
      </h2>
      {task.attempt > 1 && (
        <nav class="attempts" aria-label="Attempts">
          {Array.from({ length: task.attempt }, (_, i) => i + 1).map((n) =>
            n === attempt ? (
              <span aria-current="page">attempt {n}</span>
            ) : (
              <a href={`${base}&attempt=${n}#log`}>attempt {n}</a>
            ),
          )}
        </nav>
      )}
      <label>
        <input type="checkbox" id="follow" checked /> Follow while it runs
      </label>
      <pre
        class="log"
        role="log"
        tabindex={0}
        aria-label={`log of ${task.name}`}
        data-follow={followUrl}
        data-task={`task-${task.name}`}
        data-once="false"
      >
        {text}
      </pre>
    </section>
  );
};

// ---------------------------------------------------------------- lists

export async function runsPage(c: Context, deps: ConsoleDeps): Promise<Response> {
  const reader = await readerOf(c, deps);
  if (!can(reader, "viewer"))
    return signInPage(c, deps, reader, "The list of runs needs sign-in.", reader.principal ? 403 : 401);
  const q = c.req.query();
  const pipeline = q.pipeline && /^[a-z0-9][a-z0-9-]{0,62}$/.test(q.pipeline) ? q.pipeline : undefined;
  const status = RunStatus.safeParse(q.status).success ? (q.status as RunStatus) : undefined;
  const branch = q.branch ? q.branch.slice(0, 255) : undefined;
  const cursor = q.cursor && q.cursor.length <= 2048 ? q.cursor : undefined;
  const wanted = 20;
  // The store filters by pipeline and status; a branch is matched here, over at most 5 pages of 100.
  const items: RunView[] = [];
  let next = cursor;
  let scanned = 0;
  do {
    const page = await deps.runs.list({
      ...(pipeline && { pipeline }),
      ...(status && { status }),
      limit: branch ? 100 : wanted,
      ...(next && { cursor: next }),
    });
    scanned += page.items.length;
    for (const run of page.items)
      if (!branch || run.trigger.branch === branch || run.trigger.tag === branch) items.push(run);
    next = page.cursor;
  } while (branch && next && items.length < wanted && scanned < 500);
  const pipelines = (await deps.definitions.listPipelines()).map((p) => p.name).sort();
  const keep = (extra: Record<string, string | undefined>) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries({ pipeline, status, branch, ...extra })) if (v) params.set(k, v);
    return `/runs?${params}`;
  };
  return html(
    c,
    <Layout title="Runs" reader={reader} here={c.req.path}>
      <h1>Runs</h1>
      <form class="filters" method="get" action="/runs">
        <label>
          Pipeline
          <select name="pipeline">
            <option value="">all</option>
            {pipelines.map((name) => (
              <option value={name} selected={name === pipeline}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select name="status">
            <option value="">any</option>
            {RunStatus.options.map((s) => (
              <option value={s} selected={s === status}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Branch or tag
          <input name="branch" value={branch ?? ""} maxlength={255} />
        </label>
        <button type="submit">Filter</button>
      </form>
      {items.length === 0 ? (
        <p>No runs{pipeline || status || branch ? " match these filters" : " yet"}.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">Pipeline</th>
                <th scope="col">Ref</th>
                <th scope="col">Commit</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {items.map((run) => (
                <tr>
                  <td>
                    <a href={`/runs/${run.id}`}>
                      <code>{run.id.slice(0, 12)}</code>
                    </a>
                  </td>
                  <td>
                    <Badge status={run.status} />
                  </td>
                  <td>{run.pipeline}</td>
                  <td>{run.trigger.tag ?? run.trigger.branch ?? run.trigger.ref}</td>
                  <td>
                    <code>{run.trigger.commit.slice(0, 7)}</code>{" "}
                    {firstLine(run.trigger.message).slice(0, 60)}
                  </td>
                  <td>
                    <time datetime={run.createdAt}>{fmtTime(run.createdAt)}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {branch && <p class="muted">Branch matched among the {scanned} newest runs of these filters.</p>}
      <nav aria-label="Pages" class="actions">
        {cursor && <a href={keep({})}>Newest</a>}
        {next && <a href={keep({ cursor: next })}>Older runs →</a>}
      </nav>
    </Layout>,
  );
}

export async function pipelinesPage(c: Context, deps: ConsoleDeps): Promise<Response> {
  const reader = await readerOf(c, deps);
  if (!can(reader, "viewer"))
    return signInPage(c, deps, reader, "The pipelines need sign-in.", reader.principal ? 403 : 401);
  const pipelines = (await deps.definitions.listPipelines()).sort((a, b) => a.name.localeCompare(b.name));
  // One query per pipeline, for at most the first 100: the page stays bounded however many there are.
  const shown = pipelines.slice(0, 100);
  const recent = await Promise.all(shown.map((p) => deps.runs.list({ pipeline: p.name, limit: 5 })));
  return html(
    c,
    <Layout title="Pipelines" reader={reader} here={c.req.path}>
      <h1>Pipelines</h1>
      {shown.length === 0 && <p>No pipelines yet: apply one with `hookflow apply -f pipeline.yaml`.</p>}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Pipeline</th>
              <th scope="col">Status</th>
              <th scope="col">Triggers</th>
              <th scope="col">Last runs</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((p, i) => {
              const runs = recent[i]?.items ?? [];
              return (
                <tr>
                  <td>
                    <a href={`/pipelines/${p.name}`}>{p.name}</a>
                  </td>
                  <td>
                    {runs[0] ? <Badge status={runs[0].status} /> : <span class="muted">never run</span>}
                  </td>
                  <td>
                    <Triggers pipeline={p} />
                  </td>
                  <td>
                    {runs.map((r) => (
                      <>
                        <a href={`/runs/${r.id}`} title={`${r.status}, ${fmtTime(r.createdAt)}`}>
                          <Badge status={r.status} />
                        </a>{" "}
                      </>
                    ))}
                    {runs.length > 0 && <a href={`/runs?pipeline=${p.name}`}>all</a>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {pipelines.length > shown.length && (
        <p class="muted">
          The first {shown.length} of {pipelines.length}.
        </p>
      )}
    </Layout>,
  );
}

const Triggers: FC<{ pipeline: Pipeline }> = ({ pipeline }) => (
  <ul>
    {pipeline.triggers.map((t) => (
      <li>
        {t.provider} {t.repository ?? "(its repository)"}: {(t.events ?? []).join(", ")}
        {t.branches && ` · branches ${t.branches.join(", ")}`}
        {t.tags && ` · tags ${t.tags.join(", ")}`}
      </li>
    ))}
    {(pipeline.schedules ?? []).map((s) => (
      <li>
        schedule <code>{s.cron}</code> on {s.branch}
      </li>
    ))}
  </ul>
);

export async function pipelinePage(c: Context, deps: ConsoleDeps): Promise<Response> {
  const reader = await readerOf(c, deps);
  if (!can(reader, "viewer"))
    return signInPage(c, deps, reader, "The pipelines need sign-in.", reader.principal ? 403 : 401);
  const name = c.req.param("name") ?? "";
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) throw new NotFoundError(`no pipeline ${name.slice(0, 64)}`);
  const pipeline = await deps.definitions.getPipeline(name);
  const runs = await deps.runs.list({ pipeline: name, limit: 10 });
  // yaml (about 120 KB) on this page only: the run pages, which notifications link to, load without it.
  const { stringify } = await import("yaml");
  return html(
    c,
    <Layout title={name} reader={reader} here={c.req.path}>
      <h1>Pipeline {name}</h1>
      <h2>Triggers</h2>
      <Triggers pipeline={pipeline} />
      <h2>Last runs</h2>
      {runs.items.length === 0 ? (
        <p>Never run.</p>
      ) : (
        <ul>
          {runs.items.map((r) => (
            <li>
              <a href={`/runs/${r.id}`}>
                <code>{r.id.slice(0, 12)}</code>
              </a>{" "}
              <Badge status={r.status} /> {r.trigger.branch ?? r.trigger.tag ?? r.trigger.ref} ·{" "}
              <time datetime={r.createdAt}>{fmtTime(r.createdAt)}</time>
            </li>
          ))}
        </ul>
      )}
      <h2>Definition (read-only; sensitive values masked)</h2>
      <pre class="log" tabindex={0}>
        {stringify(pipeline)}
      </pre>
    </Layout>,
  );
}

// ---------------------------------------------------------------- files and errors

export function asset(c: Context): Response {
  const file = ASSETS[c.req.param("file") ?? ""];
  if (!file) throw new NotFoundError("no such file");
  return c.body(file.body, 200, {
    "content-type": file.type,
    "cache-control": "public, max-age=31536000, immutable",
    "x-content-type-options": "nosniff",
  });
}

/** Errors as a page a person can read: what went wrong and where to go; never a stack trace. */
export function errorPage(c: Context, error: unknown, deps: ConsoleDeps): Response {
  const status = error instanceof ForbiddenPage ? 403 : statusOf(error);
  if (status >= 500)
    deps.log.error("console page failed", {
      path: c.req.path,
      error: (error as Error)?.stack ?? String(error),
    });
  const message =
    status >= 500 ? "Something went wrong on hookflow's side; it has been logged." : (error as Error).message;
  const title =
    status === 404 ? "Not found" : status === 403 ? "Not allowed" : status === 401 ? "Sign in" : "Error";
  return html(
    c,
    <Layout title={title} here={c.req.path}>
      <h1>{title}</h1>
      <p role="alert" class="cause">
        {message}
      </p>
      <p>
        <a href="/runs">All runs</a>
      </p>
    </Layout>,
    status,
  );
}

// ---------------------------------------------------------------- words

function fmtDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

function fmtTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

const firstLine = (text: string) => text.split("\n")[0] ?? "";

/** A repository's web page from its clone URL (`https://host/owner/name.git`); none for other schemes. */
function repositoryWebUrl(cloneUrl: string): string | undefined {
  return /^https?:\/\/[^\s"'<>]+$/.test(cloneUrl) ? cloneUrl.replace(/\.git$/, "") : undefined;
}

function commitLink(provider: string, web: string, commit: string): string {
  return provider === "gitlab" ? `${web}/-/commit/${commit}` : `${web}/commit/${commit}`;
}

function prLink(provider: string, web: string, n: number): string {
  if (provider === "gitlab") return `${web}/-/merge_requests/${n}`;
  if (provider === "gitea") return `${web}/pulls/${n}`;
  return `${web}/pull/${n}`;
}
