import * as z from "zod";
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
      subject: z.string().optional(),
      tokenId: z.string().optional(),
    }),
    /** An API bearer token; `id` names which ("bootstrap" for HOOKFLOW_API_TOKEN). */
    z.object({ kind: z.literal("token"), id: z.string() }),
    /** A verified webhook delivery. */
    z.object({ kind: z.literal("gitHost"), provider: Provider, delivery: z.string() }),
    /** hookflow itself: a reconcile, an observation, a run cancelling an older one of its group (`forRun`). */
    z.object({ kind: z.literal("scheduler"), forRun: z.string().optional() }),
    /**
     * The in-cluster relay (`hookflow relay`, HOOKFLOW_RELAY_TOKEN), reporting what Kubernetes shows about
     * hookflow's own Jobs; accepted on its report route only, never as a task.
     */
    z.object({ kind: z.literal("relay") }),
    /** A task attempt reporting with its own token. */
    z.object({ kind: z.literal("task"), runId: z.string(), task: z.string(), attempt: z.number().int() }),
  ]),
);
export type Actor = z.infer<typeof Actor>;

export const SCHEDULER: Actor = { kind: "scheduler" };
export const BOOTSTRAP_TOKEN: Actor = { kind: "token", id: "bootstrap" };
export const RELAY: Actor = { kind: "relay" };
