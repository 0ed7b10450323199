import { loadKubeconfig } from "../adapters/kubernetes/client.js";
import { baseUrl } from "../config.js";
import type { Logger } from "../ports.js";
import { Relay } from "./relay.js";
import { httpReporter } from "./report.js";

/**
 * `hookflow relay`, configured from its environment:
 * - HOOKFLOW_URL: where hookflow takes reports (`/callbacks/relay` under it): on AWS the callback function's URL
 *   (`sst deploy` prints it as `callbackUrl`), else hookflow's public URL;
 * - HOOKFLOW_RELAY_TOKEN: the relay's token, the same value hookflow is given;
 * - HOOKFLOW_NAMESPACE: where hookflow's Jobs are (default "default");
 * - KUBECONFIG: optional; in a pod, the ServiceAccount's own token is used.
 */
export async function startRelay(
  env: Readonly<Record<string, string | undefined>>,
  log: Logger,
): Promise<Relay> {
  const missing = ["HOOKFLOW_URL", "HOOKFLOW_RELAY_TOKEN"].filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`the relay needs ${missing.join(" and ")}`);
  const url = baseUrl().safeParse(env.HOOKFLOW_URL);
  if (!url.success)
    throw new Error(`HOOKFLOW_URL: ${url.error.issues.map((issue) => issue.message).join("; ")}`);
  const namespace = env.HOOKFLOW_NAMESPACE || "default";
  const relay = new Relay({
    kubeconfig: loadKubeconfig(env.KUBECONFIG ? { kubeconfigPath: env.KUBECONFIG } : {}),
    namespace,
    log,
    report: httpReporter({ url: url.data, token: env.HOOKFLOW_RELAY_TOKEN as string, log }),
  });
  await relay.start();
  log.info("relay watching hookflow's Jobs", { namespace });
  return relay;
}
