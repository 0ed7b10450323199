/**
 * The routes of GitLab's and Gitea's APIs the fake answers, transcribed from their documentation (neither
 * publishes an API description on npm). Add a route here, with where it comes from, before the fake answers it.
 * GitHub's routes are not listed: they are checked against `@octokit/openapi` (see github-spec.ts).
 */
export interface Route {
  method: "GET";
  /** `{name}` matches one URL-encoded segment; a slash inside a value must be encoded as %2F. */
  template: string;
  /** Query parameters the route documents; any other fails the request. */
  query: string[];
  /** Required query parameters. */
  required?: string[];
  source: string;
}

/** GitLab REST API v4, paths below /api/v4. */
export const GITLAB_ROUTES: Route[] = [
  {
    method: "GET",
    template: "/projects/{id}/repository/branches/{branch}",
    query: [],
    source: "https://docs.gitlab.com/api/branches/#get-a-single-repository-branch",
  },
  {
    method: "GET",
    template: "/projects/{id}/repository/files/{file_path}",
    query: ["ref"],
    required: ["ref"],
    source: "https://docs.gitlab.com/api/repository_files/#get-file-from-repository",
  },
  {
    method: "GET",
    template: "/projects/{id}/repository/tree",
    query: ["path", "ref", "recursive", "per_page", "page", "pagination", "page_token"],
    source: "https://docs.gitlab.com/api/repositories/#list-repository-tree",
  },
  {
    method: "GET",
    template: "/projects/{id}/merge_requests/{merge_request_iid}/diffs",
    query: ["page", "per_page", "unidiff"],
    source: "https://docs.gitlab.com/api/merge_requests/#list-merge-request-diffs",
  },
  {
    method: "GET",
    template: "/projects/{id}/repository/commits/{sha}",
    query: ["stats"],
    source: "https://docs.gitlab.com/api/commits/#get-a-single-commit",
  },
];

/** Gitea API v1 (its Swagger at /api/swagger on every instance, and https://docs.gitea.com/api), paths below /api/v1. */
export const GITEA_ROUTES: Route[] = [
  {
    method: "GET",
    template: "/repos/{owner}/{repo}/branches/{branch}",
    query: [],
    source: "https://docs.gitea.com/api/1.22/#tag/repository/operation/repoGetBranch",
  },
  {
    method: "GET",
    // {filepath} may hold slashes (a path inside the repository).
    template: "/repos/{owner}/{repo}/contents/{filepath+}",
    query: ["ref"],
    source: "https://docs.gitea.com/api/1.22/#tag/repository/operation/repoGetContents",
  },
  {
    method: "GET",
    template: "/repos/{owner}/{repo}/pulls/{index}/files",
    query: ["skip-to", "whitespace", "page", "limit"],
    source: "https://docs.gitea.com/api/1.22/#tag/repository/operation/repoGetPullRequestFiles",
  },
  {
    method: "GET",
    template: "/repos/{owner}/{repo}/git/commits/{sha}",
    query: ["stat", "verification", "files"],
    source: "https://docs.gitea.com/api/1.22/#tag/repository/operation/repoGetSingleCommit",
  },
];

/** The route a request matches, with its decoded path parameters; undefined when none does. */
export function matchRoute(
  routes: Route[],
  method: string,
  path: string,
): { route: Route; params: Record<string, string> } | undefined {
  for (const route of routes) {
    if (route.method !== method) continue;
    const names: string[] = [];
    const pattern = route.template.replace(/\{([a-z_]+)(\+?)\}/g, (_, name: string, rest: string) => {
      names.push(name);
      return rest ? "(.+)" : "([^/]+)";
    });
    const match = new RegExp(`^${pattern}$`).exec(path);
    if (!match) continue;
    const params: Record<string, string> = {};
    names.forEach((name, i) => {
      params[name] = decodeURIComponent(match[i + 1] as string);
    });
    return { route, params };
  }
  return undefined;
}

/** Why a query does not fit a route: an undocumented or missing parameter. */
export function queryProblem(route: { query: string[]; required?: string[] }, query: URLSearchParams) {
  for (const name of query.keys())
    if (!route.query.includes(name)) return `query parameter "${name}" is not documented for this route`;
  for (const name of route.required ?? [])
    if (!query.has(name)) return `required query parameter "${name}" is missing`;
  return undefined;
}
