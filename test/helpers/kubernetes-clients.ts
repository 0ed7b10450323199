import { beforeAll, describe } from "vitest";
import type { KubernetesClient } from "../../core/adapters/kubernetes/index.js";

const CLIENTS = ["built-in", "client-node"] as const satisfies KubernetesClient[];
let current: KubernetesClient = "built-in";

/** The client of the suite running (see `forEachKubernetesClient`). */
export const kubernetesClient = (): KubernetesClient => current;

/**
 * Runs `suite` once with each client the Kubernetes adapter can talk to a cluster with (connectKubernetes): its
 * built-in one and @kubernetes/client-node, against the same fake API server. Each creates its runner with
 * `client: kubernetesClient()`.
 */
export function forEachKubernetesClient(suite: () => void): void {
  describe.each(CLIENTS)("with the %s client", (client) => {
    beforeAll(() => {
      current = client;
    });
    suite();
  });
}
