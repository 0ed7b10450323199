import * as z from "zod/mini";
import { schema } from "./schema.js";

/** Roles, each including the ones before: viewer reads, operator runs/cancels/reruns, admin changes definitions. */
export const Role = /* @__PURE__ */ schema(() => z.enum(["viewer", "operator", "admin"]));
export type Role = z.infer<typeof Role>;

export const roleRank = (role: Role): number => Role.options.indexOf(role);
/** Whether `held` includes `needed`. */
export const roleIncludes = (held: Role | undefined, needed: Role): boolean =>
  held !== undefined && roleRank(held) >= roleRank(needed);

/**
 * `HOOKFLOW_ROLES`: per role, who holds it: a username, a verified email, `group:<name>` (from the `groups`
 * claim) or `*` (everyone who signs in). A person holds the highest role any entry gives them.
 */
const Member = /* @__PURE__ */ schema(() => z.string().check(z.minLength(1), z.maxLength(256)));
export const RoleMap = /* @__PURE__ */ schema(() =>
  z.strictObject({
    admin: z._default(z.array(Member).check(z.maxLength(1000)), []),
    operator: z._default(z.array(Member).check(z.maxLength(1000)), []),
    viewer: z._default(z.array(Member).check(z.maxLength(1000)), []),
  }),
);
export type RoleMap = z.infer<typeof RoleMap>;

/** Who a person is, as hookflow keeps it (from the provider's claims, or named by an admin for a token). */
export const Identity = /* @__PURE__ */ schema(() =>
  z.object({
    /** The provider's `sub` (or `local:<username>` for a person an admin named). */
    subject: z.string().check(z.maxLength(256)),
    /** `preferred_username`, else `sub`. */
    username: z.string().check(z.maxLength(256)),
    name: z.optional(z.string().check(z.maxLength(256))),
    /** Only when the provider says it is verified. */
    email: z.optional(z.string().check(z.maxLength(256))),
    groups: z.array(z.string().check(z.maxLength(256))).check(z.maxLength(100)),
  }),
);
export type Identity = z.infer<typeof Identity>;

/**
 * Who a request acts as, and with what role. A person (signed in, or through one of their tokens) or a service
 * (the bootstrap token, or a token it created): an admin that is not a person, so it can approve nothing.
 */
export type Principal =
  | {
      kind: "person";
      identity: Identity;
      role: Role | undefined;
      /** How they proved it: the session cookie, or a personal token (its id). */
      via: { session: true } | { tokenId: string };
    }
  | { kind: "service"; role: "admin"; tokenId: string; label: string };

/** The highest role `map` gives `identity` (undefined: none). */
export function roleOf(identity: Identity, map: RoleMap): Role | undefined {
  const names = new Set(
    [
      identity.username,
      ...(identity.email ? [identity.email] : []),
      ...identity.groups.map((g) => `group:${g}`),
      "*",
    ].map((n) => n.toLowerCase()),
  );
  for (const role of [...Role.options].reverse())
    if (map[role].some((member) => names.has(member.toLowerCase()))) return role;
  return undefined;
}

/** How the audit and logs name a principal: a person's username, or the service token's label. */
export function principalName(principal: Principal): string {
  return principal.kind === "person" ? principal.identity.username : principal.label;
}
