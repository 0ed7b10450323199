/**
 * The CloudWatch alarms `sst deploy` creates (infra/sst/hookflow.ts builds one aws.cloudwatch.MetricAlarm per
 * entry). What each means and what to do: docs/operations.md. Each watches a metric AWS itself publishes, so an
 * alarm still fires when hookflow's own code cannot run at all.
 */
import { FUNCTIONS, QUEUE } from "./functions.js";

/** What an alarm watches: the queue or function it is about, as hookflow.ts resolves it to a name. */
export type AlarmSubject = "workQueue" | "deadLetterQueue" | "scheduler";

export interface AlarmPlan {
  /** The alarm's name suffix: `hookflow-<stage>-<name>`. */
  name: string;
  subject: AlarmSubject;
  namespace: "AWS/SQS" | "AWS/Lambda";
  metricName: string;
  statistic: "Maximum" | "Sum";
  periodSeconds: number;
  /** How many of the last `evaluationPeriods` periods must breach. */
  datapointsToAlarm: number;
  evaluationPeriods: number;
  threshold: number;
  description: string;
}

/** A message older than this in the work queue: the scheduler is behind, failing, or a run's group is blocked. */
export const OLDEST_MESSAGE_ALARM_SECONDS = 2 * QUEUE.visibilityTimeoutSeconds;

export const ALARMS: readonly AlarmPlan[] = [
  {
    name: "dead-letters",
    subject: "deadLetterQueue",
    namespace: "AWS/SQS",
    metricName: "ApproximateNumberOfMessagesVisible",
    statistic: "Maximum",
    periodSeconds: 60,
    datapointsToAlarm: 1,
    evaluationPeriods: 1,
    threshold: 1,
    description: `A work message failed ${QUEUE.maxReceiveCount} times and was moved to the dead-letter queue: its run may be stuck until it is replayed (docs/operations.md#alarm-dead-letters).`,
  },
  {
    name: "scheduler-errors",
    subject: "scheduler",
    namespace: "AWS/Lambda",
    metricName: "Errors",
    statistic: "Sum",
    periodSeconds: 300,
    datapointsToAlarm: 1,
    evaluationPeriods: 1,
    threshold: 1,
    description: `The scheduler function failed a whole invocation (a crash, a start failure such as bad configuration, or its ${FUNCTIONS.scheduler.timeoutSeconds} s timeout): read its log (docs/operations.md#alarm-scheduler-errors).`,
  },
  {
    name: "oldest-message",
    subject: "workQueue",
    namespace: "AWS/SQS",
    metricName: "ApproximateAgeOfOldestMessage",
    statistic: "Maximum",
    periodSeconds: 60,
    datapointsToAlarm: 3,
    evaluationPeriods: 3,
    threshold: OLDEST_MESSAGE_ALARM_SECONDS,
    description: `A work message has waited over ${OLDEST_MESSAGE_ALARM_SECONDS} s for 3 minutes: runs are not advancing (docs/operations.md#alarm-oldest-message).`,
  },
];

/**
 * Where alarms are sent, from the environment of `sst deploy`: `HOOKFLOW_ALARM_EMAIL` subscribes an address to
 * a topic hookflow creates (AWS mails a confirmation link first); `HOOKFLOW_ALARM_TOPIC_ARN` uses a topic of
 * your own (a pager, AWS Chatbot). Neither: the alarms exist and show in the console, and notify no one.
 */
export function alarmSettings(env: Readonly<Record<string, string | undefined>>): {
  email?: string;
  topicArn?: string;
} {
  const email = env.HOOKFLOW_ALARM_EMAIL?.trim();
  const topicArn = env.HOOKFLOW_ALARM_TOPIC_ARN?.trim();
  if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email))
    throw new Error(`HOOKFLOW_ALARM_EMAIL is not an email address: ${email}`);
  if (topicArn && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$/.test(topicArn))
    throw new Error(
      `HOOKFLOW_ALARM_TOPIC_ARN is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>): ${topicArn}`,
    );
  return { ...(email && { email }), ...(topicArn && { topicArn }) };
}
