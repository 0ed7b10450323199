import { startDingtalkReceiver } from "./dingtalk.js";
import { startFeishuReceiver } from "./feishu.js";
import { startGithubReceiver } from "./github.js";
import { startGitlabReceiver } from "./gitlab.js";
import type { Receiver } from "./receiver.js";
import { startSlackReceiver } from "./slack.js";
import { startWebhookReceiver } from "./webhook.js";
import { startWecomReceiver } from "./wecom.js";

export * from "./dingtalk.js";
export * from "./feishu.js";
export * from "./gitea.js";
export * from "./github.js";
export * from "./gitlab.js";
export * from "./receiver.js";
export * from "./slack.js";
export * from "./webhook.js";
export * from "./wecom.js";

/** The credentials the receivers expect, so that tests can configure senders with them (or with wrong ones). */
export const RECEIVER_SECRETS = {
  feishuSecret: "feishu-signing-secret-7Qz",
  dingtalkSecret: "SECd1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f",
  webhookSecret: "hookflow-webhook-secret-42",
  githubToken: "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
  gitlabToken: "glpat-Qx7fN2kLm9Rv4TzW8bYc",
} as const;

export interface Receivers {
  feishu: Receiver;
  dingtalk: Receiver;
  wecom: Receiver;
  slack: Receiver;
  webhook: Receiver;
  github: Receiver;
  gitlab: Receiver;
  /** Every receiver, for assertions over all of them. */
  all(): Receiver[];
  reset(): void;
  close(): Promise<void>;
}

/** Starts one receiver per service, each on its own free port of 127.0.0.1, with RECEIVER_SECRETS. */
export async function startReceivers(options: { nowMs?: () => number } = {}): Promise<Receivers> {
  const s = RECEIVER_SECRETS;
  const [feishu, dingtalk, wecom, slack, webhook, github, gitlab] = await Promise.all([
    startFeishuReceiver({ secret: s.feishuSecret, ...(options.nowMs && { nowMs: options.nowMs }) }),
    startDingtalkReceiver({ secret: s.dingtalkSecret, ...(options.nowMs && { nowMs: options.nowMs }) }),
    startWecomReceiver(),
    startSlackReceiver(),
    startWebhookReceiver({ secret: s.webhookSecret }),
    startGithubReceiver({ token: s.githubToken }),
    startGitlabReceiver({ token: s.gitlabToken }),
  ]);
  const all = [feishu, dingtalk, wecom, slack, webhook, github, gitlab];
  return {
    feishu,
    dingtalk,
    wecom,
    slack,
    webhook,
    github,
    gitlab,
    all: () => all,
    reset: () => {
      for (const receiver of all) receiver.reset();
    },
    close: async () => {
      await Promise.all(all.map((receiver) => receiver.close()));
    },
  };
}
