import { PermanentError, RetryableError } from "../errors.js";
import type { CommitState, NotifierKind, Run } from "../model/index.js";
import type {
  Clock,
  CommitStatusReporter,
  DeliveryLedger,
  Logger,
  Metrics,
  NotificationSender,
  RateLimiter,
} from "../ports.js";
import type { NotificationEffect } from "./commands.js";
import { buildNotice, runLink } from "./notices.js";
import type { OutboxDelivery } from "./runs.js";
import type { ViewGrants } from "./view-grants.js";

export interface OutboxDeliveryDeps {
  sender: NotificationSender;
  commitStatus: CommitStatusReporter;
  ledger: DeliveryLedger;
  limiter: RateLimiter;
  rateLimits: Record<NotifierKind, { max: number; perSeconds: number }>;
  clock: Clock;
  log: Logger;
  /** `NotificationFailures`, by kind (a notifier's, or `commitStatus`), for each target given up. */
  metrics?: Metrics;
  publicUrl: string;
  /** Links carry a view grant for their run when given (HOOKFLOW_TOKEN_SECRET set). */
  grants?: ViewGrants;
  /** Tries per target within one handler, with backoff in between. */
  attempts?: number;
  backoffMs?: number;
  /** A rate limit that frees up within this long is waited for; a longer one defers the effect. */
  maxWaitSeconds?: number;
  /**
   * How long one target may take, all its tries together (default 20 s): past it, the target is given up and
   * the failure recorded on the run. Targets are tried side by side, so a delivery message ends within about
   * this long, well inside the scheduler's timeout, however many targets hang.
   */
  budgetSeconds?: number;
}

type Result = Array<{ key: string; target?: string; error?: string }>;
type Deliverable = NotificationEffect;

/** How long a sender may hold a claim before another may assume it died and send instead. */
const CLAIM_LEASE_SECONDS = 120;

const COMMIT_DESCRIPTION: Record<CommitState, string> = {
  pending: "running",
  success: "succeeded",
  failure: "failed",
  error: "canceled",
};

/**
 * Sends what the run owes the outside world, once per (run, event, target): each target is claimed in the
 * ledger before sending and marked sent after. Failures are retried a bounded number of times within a bounded
 * time per target, then recorded on the run; nothing here can fail a pipeline. Rate limits are respected by
 * waiting briefly or deferring the whole effect until its message comes back: never by dropping.
 */
export class NotificationDelivery implements OutboxDelivery {
  constructor(private readonly deps: OutboxDeliveryDeps) {}

  async deliver(run: Run, effect: Deliverable, log = this.deps.log): Promise<Result | "deferred"> {
    return effect.type === "notify" ? this.notify(run, effect, log) : this.reportCommit(run, effect, log);
  }

  private async notify(
    run: Run,
    effect: Extract<Deliverable, { type: "notify" }>,
    log: Logger,
  ): Promise<Result | "deferred"> {
    const notice = buildNotice(run, effect.event, effect.task, this.link(run.id));
    const targets = run.definition.notify
      .map((target, i) => ({ target, key: `${effect.key}#${i}` }))
      .filter(({ target }) => target.on.includes(effect.event));
    const outcomes = await Promise.all(
      targets.map(({ target, key }) =>
        this.once(log, key, target.kind, `rate:${target.url}`, this.deps.rateLimits[target.kind], () =>
          this.deps.sender.send(target, notice),
        ),
      ),
    );
    if (outcomes.includes("deferred")) return "deferred";
    const errors: Result = targets.flatMap(({ target }, i) => {
      const error = outcomes[i];
      return error ? [{ key: effect.key, target: target.kind, error }] : [];
    });
    return [{ key: effect.key }, ...errors];
  }

  private async reportCommit(
    run: Run,
    effect: Extract<Deliverable, { type: "commitStatus" }>,
    log: Logger,
  ): Promise<Result | "deferred"> {
    const { provider, repository, commit } = run.trigger;
    if (!this.deps.commitStatus.enabledFor(provider) || !/^[0-9a-f]{40}$/.test(commit))
      return [{ key: effect.key }];
    const outcome = await this.once(log, effect.key, "commitStatus", undefined, undefined, () =>
      this.deps.commitStatus.report({
        provider,
        repository,
        commit,
        state: effect.state,
        context: `hookflow/${run.pipeline}`,
        description: `hookflow: ${run.pipeline} ${COMMIT_DESCRIPTION[effect.state]}`,
        targetUrl: this.link(run.id),
      }),
    );
    if (outcome === "deferred") return "deferred";
    return [{ key: effect.key, ...(outcome && { target: `${provider} commit status`, error: outcome }) }];
  }

  /** The run's page, with a grant to view it when grants are configured: every notification and status links here. */
  private link(runId: string): string {
    const { grants, publicUrl } = this.deps;
    return grants ? grants.link(publicUrl, runId) : runLink(publicUrl, runId);
  }

  /**
   * Sends at most once per key. Returns undefined when sent (or already sent), the error when given up (told to
   * `log`, the delivery message's logger).
   */
  private async once(
    log: Logger,
    key: string,
    kind: NotifierKind | "commitStatus",
    rateKey: string | undefined,
    limit: { max: number; perSeconds: number } | undefined,
    send: () => Promise<void>,
  ): Promise<string | "deferred" | undefined> {
    const { ledger, clock } = this.deps;
    if (!(await ledger.claim(key, clock.now(), CLAIM_LEASE_SECONDS))) return undefined;
    if (rateKey && limit && !(await this.waitForRate(rateKey, limit))) {
      await ledger.release(key);
      return "deferred";
    }
    const attempts = this.deps.attempts ?? 3;
    const budgetMs = (this.deps.budgetSeconds ?? 20) * 1000;
    const budget = new Budget(budgetMs);
    for (let attempt = 1; ; attempt++) {
      try {
        await budget.race(send(), `no answer within the ${budgetMs / 1000} s a target may take`);
        await ledger.complete(key, clock.now());
        return undefined;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const retryable = error instanceof RetryableError || !(error instanceof PermanentError);
        const hint = error instanceof RetryableError ? (error.retryAfterSeconds ?? 0) * 1000 : 0;
        const backoff = Math.max(hint, (this.deps.backoffMs ?? 250) * 2 ** (attempt - 1));
        if (retryable && attempt < attempts && backoff < budget.leftMs()) {
          await pause(backoff);
          continue;
        }
        log.warn("delivery failed", { key, kind, attempts: attempt, error: message });
        this.deps.metrics?.add({
          name: "NotificationFailures",
          unit: "Count",
          value: 1,
          dimensions: { Kind: kind },
        });
        // Given up: marked done so it is not sent later out of order; the failure is recorded on the run.
        await ledger.complete(key, clock.now());
        return `${message} (after ${attempt} attempt${attempt > 1 ? "s" : ""})`;
      }
    }
  }

  private async waitForRate(key: string, limit: { max: number; perSeconds: number }): Promise<boolean> {
    const maxWait = this.deps.maxWaitSeconds ?? 2;
    for (;;) {
      const taken = await this.deps.limiter.acquire(key, limit, this.deps.clock.now());
      if (taken.ok) return true;
      if (taken.retryAfterSeconds > maxWait) return false;
      await pause(taken.retryAfterSeconds * 1000 + 10);
    }
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Time one target may take, all its tries together; a try still waiting when it runs out counts as failed. */
class Budget {
  private readonly endsAt: number;

  constructor(ms: number) {
    this.endsAt = performance.now() + ms;
  }

  leftMs(): number {
    return Math.max(0, this.endsAt - performance.now());
  }

  /** `work`'s result, or a PermanentError saying `exhausted` when the budget runs out first. */
  async race<T>(work: Promise<T>, exhausted: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const out = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PermanentError(exhausted)), this.leftMs());
    });
    // The losing try may still settle later: its outcome is no longer wanted.
    work.catch(() => {});
    try {
      return await Promise.race([work, out]);
    } finally {
      clearTimeout(timer);
    }
  }
}
