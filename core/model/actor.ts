import * as z from "zod/mini";
import { Provider } from "./pipeline.js";
import { schema } from "./schema.js";

/**
 * Who asked for a command on a run. Every command carries one, so that the log says who did what; the API
 * decides on the principal behind it (core/model/principal.ts) before a command is sent.
 */
export const Actor = /* @__PURE__ */ schema(() =>
  z.discriminatedUnion("kind", [
    /** A person, signed in (session) or through one of their tokens (`tokenId`). */
    z.object({
      kind: z.literal("person"),
      name: z.string(),
      subject: z.optional(z.string()),
      tokenId: z.optional(z.string()),
    }),
    /** An API bearer token; `id` names which ("bootstrap" for HOOKFLOW_API_TOKEN). */
    z.object({ kind: z.literal("token"), id: z.string() }),
    /** A verified webhook delivery. */
    z.object({ kind: z.literal("gitHost"), provider: Provider, delivery: z.string() }),
    /** hookflow itself: a reconcile, an observation, a run cancelling an older one of its group (`forRun`). */
    z.object({ kind: z.literal("scheduler"), forRun: z.optional(z.string()) }),
    /**
     * The in-cluster relay (`hookflow relay`, HOOKFLOW_RELAY_TOKEN), reporting what Kubernetes shows about
     * hookflow's own Jobs; accepted on its report route only, never as a task.
     */
    z.object({ kind: z.literal("relay") }),
    /** A task attempt reporting with its own token. */
    z.object({ kind: z.literal("task"), runId: z.string(), task: z.string(), attempt: z.int() }),
  ]),
);
export type Actor = z.infer<typeof Actor>;

export const SCHEDULER: Actor = { kind: "scheduler" };
export const BOOTSTRAP_TOKEN: Actor = { kind: "token", id: "bootstrap" };
export const RELAY: Actor = { kind: "relay" };
