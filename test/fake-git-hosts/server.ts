import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Provider } from "../../core/model/index.js";
import { githubOperation, undeclaredFields } from "./github-spec.js";
import { GITEA_ROUTES, GITLAB_ROUTES, matchRoute, queryProblem, type Route } from "./routes.js";

/**
 * A local stand-in for GitHub's, GitLab's and Gitea's APIs, on loopback: GitHub under /github (the API root),
 * GitLab under /gitlab (its /api/v4), Gitea under /gitea (its /api/v1). It answers only requests that match the
 * host's API description (GitHub's from @octokit/openapi, the others' from routes.ts), with the host's token;
 * anything else is answered 400 and recorded in `rejected`, which a test expects empty.
 *
 * To extend it: add the route to routes.ts (GitLab, Gitea) and a case to `answer` below; GitHub's route is
 * taken from its description as it is. List routes page as the hosts do: GitHub and GitLab serve `per_page`
 * entries (at most 100), Gitea at most `giteaMaxItems` (its MAX_RESPONSE_ITEMS, 50 by default) whatever
 * `limit` asks.
 */
export interface FakeCommit {
  message: string;
  author: string;
  /** Path inside the repository → content. */
  files: Record<string, string>;
}

export interface FakeRequest {
  provider: Provider;
  method: string;
  path: string;
  query: Record<string, string>;
}

interface Reply {
  status: number;
  body: unknown;
}

export class FakeGitHosts {
  readonly tokens: Record<Provider, string> = { github: "gh-token", gitlab: "gl-token", gitea: "gt-token" };
  readonly requests: FakeRequest[] = [];
  /** Requests that did not match the host's API description, with why. */
  readonly rejected: Array<FakeRequest & { reason: string }> = [];
  private readonly branches = new Map<string, string>();
  private readonly commits = new Map<string, FakeCommit>();
  private readonly pullRequests = new Map<string, ChangedFile[]>();
  /** Gitea's MAX_RESPONSE_ITEMS: the most entries one page of a list holds, whatever `limit` asks. */
  giteaMaxItems = 50;
  private faults: Array<{ provider: Provider; status: number; headers?: Record<string, string> }> = [];
  private server?: Server;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The settings that point hookflow at this fake. */
  settings(): Record<string, string> {
    return {
      HOOKFLOW_GITHUB_API_URL: `${this.url}/github`,
      HOOKFLOW_GITHUB_TOKEN: this.tokens.github,
      HOOKFLOW_GITLAB_URL: `${this.url}/gitlab`,
      HOOKFLOW_GITLAB_API_TOKEN: this.tokens.gitlab,
      HOOKFLOW_GITEA_URL: `${this.url}/gitea`,
      HOOKFLOW_GITEA_TOKEN: this.tokens.gitea,
    };
  }

  /** Adds a commit on top of `branch` (its sha `at`, else derived from its content) and returns the sha. */
  push(provider: Provider, repository: string, branch: string, commit: FakeCommit, at?: string): string {
    const sha =
      at ??
      createHash("sha1")
        .update(JSON.stringify([provider, repository, branch, this.commits.size, commit]))
        .digest("hex");
    this.commits.set(`${provider}:${repository}:${sha}`, commit);
    this.branches.set(`${provider}:${repository}:${branch}`, sha);
    return sha;
  }

  /** A commit known by its sha alone (a pull request's head, perhaps in a fork), on no branch. */
  commit(provider: Provider, repository: string, sha: string, commit: FakeCommit): void {
    this.commits.set(`${provider}:${repository}:${sha}`, commit);
  }

  /** A pull (merge) request of `repository` and the files it changes. */
  pullRequest(provider: Provider, repository: string, number: number, files: ChangedFile[]): void {
    this.pullRequests.set(`${provider}:${repository}:${number}`, files);
  }

  /** The next `times` requests to `provider` are answered `status` (a 5xx, a rate limit, a refused token). */
  fail(provider: Provider, status: number, times = 1, headers?: Record<string, string>): void {
    for (let i = 0; i < times; i++) this.faults.push({ provider, status, ...(headers && { headers }) });
  }

  count(provider: Provider): number {
    return this.requests.filter((r) => r.provider === provider).length;
  }

  private handle(req: IncomingMessage, res: ServerResponse): undefined {
    const url = new URL(req.url ?? "/", "http://fake");
    const [, prefix, ...rest] = url.pathname.split("/");
    const provider = (["github", "gitlab", "gitea"] as const).find((p) => p === prefix);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): undefined => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(body));
      return undefined;
    };
    if (!provider) return send(404, { message: "Not Found" });
    const rawPath = `/${rest.join("/")}`;
    const apiRoot = { github: "", gitlab: "/api/v4", gitea: "/api/v1" }[provider];
    const request: FakeRequest = {
      provider,
      method: req.method ?? "GET",
      path: rawPath,
      query: Object.fromEntries(url.searchParams),
    };
    this.requests.push(request);
    const reject = (reason: string): undefined => {
      this.rejected.push({ ...request, reason });
      return send(400, { message: reason });
    };
    if (!rawPath.startsWith(`${apiRoot}/`)) return reject(`not under ${apiRoot}/`);
    const path = rawPath.slice(apiRoot.length);

    const github = provider === "github" ? githubOperation(request.method, path) : undefined;
    const matched =
      provider === "github"
        ? github
        : matchRoute(provider === "gitlab" ? GITLAB_ROUTES : GITEA_ROUTES, request.method, path);
    if (!matched) return reject(`${request.method} ${path} is not in ${provider}'s API description`);
    const problem = queryProblem(matched.route, url.searchParams);
    if (problem) return reject(problem);

    const expected = {
      github: `Bearer ${this.tokens.github}`,
      gitlab: this.tokens.gitlab,
      gitea: `token ${this.tokens.gitea}`,
    }[provider];
    const given = provider === "gitlab" ? req.headers["private-token"] : req.headers.authorization;
    if (provider === "github" && !req.headers["user-agent"]) return reject("GitHub requires a User-Agent");
    if (given !== expected) return send(401, { message: "Bad credentials" });

    const fault = this.faults.findIndex((f) => f.provider === provider);
    if (fault >= 0) {
      const [{ status, headers }] = this.faults.splice(fault, 1) as [(typeof this.faults)[number]];
      return send(status, { message: "injected fault" }, headers);
    }
    const reply = this.answer(provider, matched.route, matched.params, url.searchParams);
    if (github && reply.status === 200) {
      const undeclared = undeclaredFields(github.operation, 200, reply.body);
      if (undeclared.length > 0)
        return reject(`the fake's answer has undeclared fields: ${undeclared.join(", ")}`);
    }
    send(reply.status, reply.body);
  }

  private answer(
    provider: Provider,
    route: Route,
    params: Record<string, string>,
    query: URLSearchParams,
  ): Reply {
    const repository =
      provider === "gitlab" ? (params.id as string) : `${params.owner as string}/${params.repo as string}`;
    const key = (rest: string) => `${provider}:${repository}:${rest}`;
    const notFound = { status: 404, body: { message: "404 Not Found" } };
    if (route.template.endsWith("/files") || route.template.endsWith("/diffs")) {
      const files = this.pullRequests.get(
        key(params.pull_number ?? params.merge_request_iid ?? params.index ?? ""),
      );
      if (!files) return notFound;
      const asked = Number(
        query.get(provider === "gitea" ? "limit" : "per_page") ?? (provider === "gitlab" ? 20 : 30),
      );
      const size = Math.min(asked, provider === "gitea" ? this.giteaMaxItems : 100);
      const page = Number(query.get("page") ?? 1);
      const slice = files.slice((page - 1) * size, page * size);
      return { status: 200, body: slice.map((file) => changedFileBody(provider, file)) };
    }
    if (route.template.includes("/commits/")) {
      const commit = this.commits.get(key(params.commit_sha ?? params.sha ?? ""));
      if (!commit) return notFound;
      return { status: 200, body: commitBody(provider, params.commit_sha ?? params.sha ?? "", commit) };
    }
    if (route.template.includes("/branches/")) {
      const sha = this.branches.get(key(params.branch as string));
      const commit = sha && this.commits.get(key(sha));
      if (!sha || !commit) return notFound;
      return { status: 200, body: branchBody(provider, params.branch as string, sha, commit) };
    }
    const ref = query.get("ref") ?? "";
    const commit = this.commits.get(key(this.branches.get(key(ref)) ?? ref));
    if (!commit) return notFound;
    const path = (params.path ?? params.file_path ?? params.filepath ?? query.get("path") ?? "").replace(
      /\/+$/,
      "",
    );
    if (route.template.endsWith("/tree")) {
      const entries = directory(commit, path);
      return entries.length > 0 ? { status: 200, body: entries.map((e) => gitlabTreeEntry(e)) } : notFound;
    }
    const content = commit.files[path];
    if (content !== undefined) return { status: 200, body: fileBody(provider, path, content) };
    if (provider === "gitlab") return notFound;
    const entries = directory(commit, path);
    if (entries.length === 0) return notFound;
    return { status: 200, body: entries.map((e) => contentsEntry(provider, e)) };
  }
}

/** A file a pull request changes; `previous` for a rename. */
export interface ChangedFile {
  filename: string;
  previous?: string;
}

function changedFileBody(provider: Provider, file: ChangedFile): unknown {
  const status = file.previous ? "renamed" : "modified";
  if (provider === "gitlab")
    return {
      old_path: file.previous ?? file.filename,
      new_path: file.filename,
      a_mode: "100644",
      b_mode: "100644",
      diff: "@@ -1 +1 @@\n-a\n+b\n",
      new_file: false,
      renamed_file: !!file.previous,
      deleted_file: false,
    };
  const common = {
    filename: file.filename,
    ...(file.previous && { previous_filename: file.previous }),
    status,
    additions: 1,
    deletions: 1,
    changes: 2,
  };
  if (provider === "gitea") return common;
  return {
    ...common,
    sha: blobSha(file.filename),
    blob_url: "https://github.com/x/blob",
    raw_url: "https://github.com/x/raw",
    contents_url: "https://api.github.com/x/contents",
    patch: "@@ -1 +1 @@\n-a\n+b",
  };
}

function commitBody(provider: Provider, sha: string, commit: FakeCommit): unknown {
  const author = { name: commit.author, email: "dev@example.com", date: "2026-01-01T00:00:00Z" };
  if (provider === "github")
    return {
      sha,
      node_id: "C_fake",
      url: `https://api.github.com/git/commits/${sha}`,
      html_url: `https://github.com/commit/${sha}`,
      author,
      committer: author,
      message: commit.message,
      parents: [],
    };
  if (provider === "gitlab")
    return {
      id: sha,
      short_id: sha.slice(0, 8),
      title: commit.message.split("\n")[0],
      message: commit.message,
      author_name: commit.author,
    };
  return { sha, commit: { message: commit.message, author } };
}

interface Entry {
  name: string;
  path: string;
  dir: boolean;
}

function directory(commit: FakeCommit, dir: string): Entry[] {
  const prefix = dir ? `${dir}/` : "";
  const seen = new Map<string, Entry>();
  for (const file of Object.keys(commit.files)) {
    if (!file.startsWith(prefix)) continue;
    const [name, ...deeper] = file.slice(prefix.length).split("/");
    if (name) seen.set(name, { name, path: `${prefix}${name}`, dir: deeper.length > 0 });
  }
  return [...seen.values()];
}

const blobSha = (text: string) => createHash("sha1").update(text).digest("hex");

function branchBody(provider: Provider, name: string, sha: string, commit: FakeCommit): unknown {
  if (provider === "github")
    return {
      name,
      commit: {
        sha,
        node_id: "C_fake",
        url: `https://api.github.com/commits/${sha}`,
        commit: {
          message: commit.message,
          author: { name: commit.author, email: "dev@example.com", date: "2026-01-01T00:00:00Z" },
        },
      },
      protected: false,
      protection_url: "https://api.github.com/protection",
    };
  if (provider === "gitlab")
    return {
      name,
      merged: false,
      protected: false,
      default: name === "main",
      commit: {
        id: sha,
        short_id: sha.slice(0, 8),
        title: commit.message.split("\n")[0],
        message: commit.message,
        author_name: commit.author,
      },
    };
  return {
    name,
    commit: {
      id: sha,
      message: commit.message,
      author: { name: commit.author, email: "dev@example.com", username: "dev" },
    },
    protected: false,
  };
}

function fileBody(provider: Provider, path: string, content: string): unknown {
  const base64 = Buffer.from(content, "utf8").toString("base64");
  const name = path.split("/").pop() as string;
  if (provider === "gitlab")
    return {
      file_name: name,
      file_path: path,
      size: Buffer.byteLength(content),
      encoding: "base64",
      content: base64,
      ref: "",
    };
  return {
    ...contentsEntry(provider, { name, path, dir: false }),
    encoding: "base64",
    // GitHub wraps base64 at 60 characters.
    content: provider === "github" ? (base64.match(/.{1,60}/g) ?? []).join("\n") : base64,
    size: Buffer.byteLength(content),
    sha: blobSha(content),
  };
}

function contentsEntry(provider: Provider, entry: Entry): Record<string, unknown> {
  const common = {
    name: entry.name,
    path: entry.path,
    sha: blobSha(entry.path),
    size: 0,
    type: entry.dir ? "dir" : "file",
  };
  if (provider === "github")
    return {
      ...common,
      url: "https://api.github.com/x",
      git_url: null,
      html_url: null,
      download_url: null,
      _links: { self: "https://api.github.com/x", git: null, html: null },
    };
  return common;
}

function gitlabTreeEntry(entry: Entry): unknown {
  return {
    id: blobSha(entry.path),
    name: entry.name,
    path: entry.path,
    type: entry.dir ? "tree" : "blob",
    mode: entry.dir ? "040000" : "100644",
  };
}
