import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ApiError } from "./status.js";

/**
 * RBAC for the fake API server: Roles and ClusterRoles bound by RoleBindings to ServiceAccounts (each known by a
 * bearer token), Users and Groups (an EKS identity's, see eks.ts). A request whose user no bound rule allows is
 * answered 403 with the authorizer's own words.
 */

// biome-ignore lint/suspicious/noExplicitAny: RBAC objects are read field by field, as parsed from YAML.
type Obj = any;

export interface Authorization {
  /** Roles, ClusterRoles and RoleBindings (other kinds are ignored): the shipped manifests, parsed. */
  objects: Obj[];
  /** Bearer token → ServiceAccount, as `namespace/name`. A token not listed is 401. */
  serviceAccounts: Record<string, string>;
}

/** What a request asks to do, as the authorizer sees it. */
export interface RequestAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace: string;
  name?: string;
}

export const serviceAccountUser = (account: string) => {
  const [namespace, name] = account.split("/");
  return `system:serviceaccount:${namespace}:${name}`;
};

/** Who a request is, as the authenticator hands it to the authorizer. */
export interface Identity {
  user: string;
  groups: readonly string[];
}

/** A ServiceAccount (`namespace/name`) as the API server knows it: its user and its groups. */
export const serviceAccountIdentity = (account: string): Identity => ({
  user: serviceAccountUser(account),
  groups: [
    "system:serviceaccounts",
    `system:serviceaccounts:${account.split("/")[0]}`,
    "system:authenticated",
  ],
});

/** Every object of every `.yaml` file in a folder (what `kubectl apply -f folder/` applies). */
export function readManifests(folder: string): Obj[] {
  return readdirSync(folder)
    .filter((file) => file.endsWith(".yaml"))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(folder, file), "utf8"))
        .map((doc) => doc.toJS())
        .filter((object) => object !== null),
    );
}

/** The attributes of a request to a namespaced resource; undefined for any other path. */
export function attributesOf(
  method: string,
  path: string,
  query: URLSearchParams,
): RequestAttributes | undefined {
  const match =
    /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?$/.exec(
      path,
    );
  if (!match) return undefined;
  const [, group = "", namespace = "", resource = "", name, subresource] = match;
  const verb =
    method === "GET"
      ? name !== undefined
        ? "get"
        : query.get("watch") === "true" || query.get("watch") === "1"
          ? "watch"
          : "list"
      : method === "POST"
        ? "create"
        : method === "PUT"
          ? "update"
          : method === "PATCH"
            ? "patch"
            : method === "DELETE"
              ? name !== undefined
                ? "delete"
                : "deletecollection"
              : method.toLowerCase();
  return {
    verb,
    group,
    resource,
    namespace,
    ...(name !== undefined && { name }),
    ...(subresource !== undefined && { subresource }),
  };
}

/** Throws the API server's 403 when no rule bound to `identity` in the request's namespace allows it. */
export function authorize(auth: Authorization, identity: Identity, request: RequestAttributes): void {
  if (allowed(auth, identity, request)) return;
  const { user } = identity;
  const qualified = request.group ? `${request.resource}.${request.group}` : request.resource;
  const resource = request.subresource ? `${request.resource}/${request.subresource}` : request.resource;
  throw new ApiError(
    403,
    "Forbidden",
    `${qualified}${request.name !== undefined ? ` "${request.name}"` : ""} is forbidden: User "${user}" cannot ${request.verb} resource "${resource}" in API group "${request.group}" in the namespace "${request.namespace}"`,
    {
      ...(request.name !== undefined && { name: request.name }),
      group: request.group,
      kind: request.resource,
    },
  );
}

export function allowed(auth: Authorization, identity: Identity, request: RequestAttributes): boolean {
  const names = (s: Obj) =>
    (s.kind === "ServiceAccount" && identity.user === `system:serviceaccount:${s.namespace}:${s.name}`) ||
    (s.kind === "User" && identity.user === s.name) ||
    (s.kind === "Group" && identity.groups.includes(s.name));
  const bindings = auth.objects.filter(
    (o) =>
      o?.kind === "RoleBinding" &&
      o.metadata?.namespace === request.namespace &&
      (o.subjects ?? []).some(names),
  );
  const resource = request.subresource ? `${request.resource}/${request.subresource}` : request.resource;
  return bindings.some((binding) => {
    const { kind, name } = binding.roleRef ?? {};
    const role = auth.objects.find(
      (o) =>
        o?.kind === kind &&
        o.metadata?.name === name &&
        (kind === "ClusterRole" || o.metadata?.namespace === request.namespace),
    );
    return (role?.rules ?? []).some(
      (rule: Obj) =>
        matches(rule.apiGroups, request.group) &&
        matches(rule.resources, resource) &&
        matches(rule.verbs, request.verb) &&
        (!rule.resourceNames?.length ||
          (request.name !== undefined &&
            request.verb !== "create" &&
            rule.resourceNames.includes(request.name))),
    );
  });
}

const matches = (list: string[] | undefined, value: string) =>
  (list ?? []).some((entry) => entry === "*" || entry === value);
