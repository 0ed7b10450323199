import type { GitHostApi } from "../../ports.js";
import { contentsApi, pullRequestFilesApi } from "./github-like.js";
import { type HostOptions, hostCall } from "./host.js";
import { field, ownerAndName } from "./http.js";

// GitHub's largest page.
const PER_PAGE = 100;

/**
 * GitHub's REST API (api.github.com, or GitHub Enterprise Server's https://host/api/v3): "get a branch"
 * (GET /repos/{owner}/{repo}/branches/{branch}), "get repository content" and "list pull request files"
 * (GET /repos/{owner}/{repo}/pulls/{pull_number}/files?per_page=&page=, at most 3000 files; see
 * github-like.ts), and "get a commit object" (GET /repos/{owner}/{repo}/git/commits/{commit_sha}: the Git
 * database's, which carries no diff, unlike /commits/{ref}).
 */
export function createGithubApi(options: HostOptions): GitHostApi {
  const call = hostCall(options, "HOOKFLOW_GITHUB_TOKEN", {
    accept: "application/vnd.github+json",
    authorization: `Bearer ${options.token}`,
    "x-github-api-version": "2022-11-28",
    // GitHub refuses requests without a User-Agent.
    "user-agent": "hookflow",
  });
  const repo = (repository: string) => {
    const [owner, name] = ownerAndName(repository, call.target);
    return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
  };

  return {
    provider: "github",
    async branchHead(repository, branch) {
      const body = (await call.get(`${repo(repository)}/branches/${encodeURIComponent(branch)}`)) as
        | { commit?: { sha?: string; commit?: { message?: string; author?: { name?: string } | null } } }
        | undefined;
      if (!body) return undefined;
      const commit = field(body.commit, "commit", call.target);
      return {
        commit: field(commit.sha, "commit.sha", call.target),
        message: commit.commit?.message ?? "",
        author: commit.commit?.author?.name ?? "",
      };
    },
    ...contentsApi(call, repo),
    ...pullRequestFilesApi(call, repo, {
      perPage: PER_PAGE,
      exact: true,
      pageQuery: (page) => `per_page=${PER_PAGE}&page=${page}`,
    }),
    async commitMessage(repository, commit) {
      const body = (await call.get(`${repo(repository)}/git/commits/${encodeURIComponent(commit)}`)) as
        | { message?: string }
        | undefined;
      return body && field(body.message, "message", call.target);
    },
  };
}
