import type { Logger } from "../ports.js";
import type { RelayReport } from "./relay.js";

/** A status worth trying again: hookflow or the network is having trouble, not refusing this report. */
const RETRYABLE = (status: number) => status >= 500 || status === 429 || status === 408;

/**
 * Sends reports to hookflow's `POST /callbacks/relay` with HOOKFLOW_RELAY_TOKEN. A refusal (a run deleted, a Job
 * that is not the task's) is logged and dropped: trying it again would be refused again. Trouble is thrown, so
 * that the relay tries again.
 */
export function httpReporter(options: {
  url: string;
  token: string;
  log: Logger;
  fetch?: typeof fetch;
  timeoutMs?: number;
}): (report: RelayReport) => Promise<void> {
  const send = options.fetch ?? globalThis.fetch;
  const endpoint = `${options.url.replace(/\/+$/, "")}/callbacks/relay`;
  return async (report) => {
    const response = await send(endpoint, {
      method: "POST",
      headers: { authorization: `Bearer ${options.token}`, "content-type": "application/json" },
      body: JSON.stringify(report),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    const text = await response.text();
    if (response.ok) return;
    if (RETRYABLE(response.status))
      throw new Error(`hookflow answered ${response.status}: ${text.slice(0, 500)}`);
    options.log.warn("hookflow refused a relay report", {
      jobName: report.jobName,
      status: response.status,
      answer: text.slice(0, 500),
    });
  };
}
