import type { GitHostApis } from "../../ports.js";
import { createGiteaApi } from "./gitea.js";
import { createGithubApi } from "./github.js";
import { createGitlabApi } from "./gitlab.js";
import type { HostOptions } from "./host.js";

export type { HostOptions };
export { createGiteaApi, createGithubApi, createGitlabApi };

export interface GitHostSettings {
  githubApiUrl: string;
  githubToken?: string;
  gitlabUrl: string;
  gitlabToken?: string;
  giteaUrl?: string;
  giteaToken?: string;
  fetch?: HostOptions["fetch"];
  bounds?: HostOptions["bounds"];
  clock?: HostOptions["clock"];
}

/** An API per host whose token is configured (and, for Gitea, whose URL is): the others are never called. */
export function createGitHostApis(settings: GitHostSettings): GitHostApis {
  const common = {
    ...(settings.fetch && { fetch: settings.fetch }),
    ...(settings.bounds && { bounds: settings.bounds }),
    ...(settings.clock && { clock: settings.clock }),
  };
  return {
    ...(settings.githubToken && {
      github: createGithubApi({ baseUrl: settings.githubApiUrl, token: settings.githubToken, ...common }),
    }),
    ...(settings.gitlabToken && {
      gitlab: createGitlabApi({ baseUrl: settings.gitlabUrl, token: settings.gitlabToken, ...common }),
    }),
    ...(settings.giteaToken &&
      settings.giteaUrl && {
        gitea: createGiteaApi({ baseUrl: settings.giteaUrl, token: settings.giteaToken, ...common }),
      }),
  };
}
