import { PermanentError } from "../../errors.js";
import type { Notifier, NotifierKind, TargetRules } from "../../model/index.js";
import type { Clock, NotificationSender, RunNotice } from "../../ports.js";
import { systemClock } from "../system.js";
import type { Channel } from "./channel.js";
import { dingtalk } from "./dingtalk.js";
import { feishu } from "./feishu.js";
import { guardedSend, type Resolve } from "./guard.js";
import { credentialsIn, deliver, hostOf } from "./http.js";
import { slack } from "./slack.js";
import { webhook } from "./webhook.js";
import { wecom } from "./wecom.js";

export interface NotificationSenderOptions {
  /** Where targets may be (core/model/addresses.ts); default: public addresses only. */
  targets?: TargetRules;
  /** How names are resolved; a test gives its own to play a DNS server. */
  resolve?: Resolve;
  /** Per request; a service that has not answered by then is retried later. Default 10 s. */
  timeoutMs?: number;
  /** Feishu and DingTalk sign the current time; services refuse signatures an hour off. */
  clock?: Clock;
}

const CHANNELS: Record<NotifierKind, Channel> = { feishu, dingtalk, wecom, slack, webhook };

/**
 * How fast each kind of target accepts messages, for the delivery service to space its sends (this sender
 * sends one message per call and never waits). Documented by each service, per robot or webhook URL.
 */
export const RATE_LIMITS: Record<NotifierKind, { perSeconds: number; max: number }> = {
  // 5 per second; also 100 per minute, which a sustained burst reaches first.
  feishu: { perSeconds: 1, max: 5 },
  dingtalk: { perSeconds: 60, max: 20 },
  wecom: { perSeconds: 60, max: 20 },
  // "No more than one message per second", short bursts allowed.
  slack: { perSeconds: 1, max: 1 },
  // Our own receivers: no published limit; this only keeps a runaway loop from flooding one.
  webhook: { perSeconds: 1, max: 100 },
};

export const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Sends one notice to one target, dispatching on its kind. Throws RetryableError (network, timeout, 429, 5xx,
 * a service's rate-limit code) or PermanentError (any other refusal, including a bad signature). No error
 * message contains the target's secret or the credential in its URL.
 */
export function createNotificationSender(options: NotificationSenderOptions = {}): NotificationSender {
  const send = guardedSend(options.targets ?? { allowLoopback: false }, options.resolve);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const clock = options.clock ?? systemClock;
  return {
    async send(target: Notifier, notice: RunNotice): Promise<void> {
      const channel = CHANNELS[target.kind];
      const name = `${target.kind} notifier at ${hostOf(target.url)}`;
      if (!channel) throw new PermanentError(`${name}: unknown notifier kind`);
      const nowMs = Date.parse(clock.now());
      const request = channel.request(target, notice, nowMs);
      await deliver(request, {
        send,
        timeoutMs,
        nowMs,
        target: name,
        secrets: credentialsIn(request.url, target.url, target.secret),
        refusal: channel.refusal,
        // A robot's answer is its service's JSON; a generic webhook's is anything its server says.
        quoteReplies: target.kind !== "webhook",
      });
    },
  };
}
