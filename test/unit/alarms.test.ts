import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HOOKFLOW_VERSION } from "../../core/version.js";
import { ALARMS, alarmSettings, OLDEST_MESSAGE_ALARM_SECONDS } from "../../infra/alarms.js";
import { QUEUE } from "../../infra/functions.js";

const ROOT = join(import.meta.dirname, "..", "..");
const operations = readFileSync(join(ROOT, "docs", "operations.md"), "utf8");
/** GitHub's anchors for the document's headings: lowercase, punctuation dropped, spaces as hyphens. */
const anchors = new Set(
  [...operations.matchAll(/^#{2,4} (.+)$/gm)].map((m) =>
    (m[1] ?? "")
      .toLowerCase()
      .replace(/[^a-z0-9 -]/g, "")
      .replace(/ /g, "-"),
  ),
);

describe("the alarms sst deploy creates", () => {
  it("watch the dead-letter queue, the scheduler's errors and the work queue's oldest message", () => {
    expect(ALARMS.map((a) => [a.subject, a.namespace, a.metricName])).toEqual([
      ["deadLetterQueue", "AWS/SQS", "ApproximateNumberOfMessagesVisible"],
      ["scheduler", "AWS/Lambda", "Errors"],
      ["workQueue", "AWS/SQS", "ApproximateAgeOfOldestMessage"],
    ]);
    expect(new Set(ALARMS.map((a) => a.name)).size).toBe(ALARMS.length);
  });

  it("fire on one dead letter, and not on a message that is only being retried once", () => {
    expect(ALARMS.find((a) => a.name === "dead-letters")?.threshold).toBe(1);
    // A message whose first try failed comes back after the visibility timeout: that alone is no alarm.
    expect(OLDEST_MESSAGE_ALARM_SECONDS).toBeGreaterThan(QUEUE.visibilityTimeoutSeconds);
    for (const alarm of ALARMS) expect(alarm.datapointsToAlarm).toBeLessThanOrEqual(alarm.evaluationPeriods);
  });

  it("each name the section of docs/operations.md that says what to do", () => {
    for (const alarm of ALARMS) {
      const anchor = /docs\/operations\.md#([a-z0-9-]+)/.exec(alarm.description)?.[1];
      expect(anchor, alarm.name).toBe(`alarm-${alarm.name}`);
      expect(anchors.has(anchor as string), `no heading for #${anchor}`).toBe(true);
    }
  });
});

describe("where alarms are sent", () => {
  it.each([
    [{}, {}],
    [{ HOOKFLOW_ALARM_EMAIL: " oncall@example.com " }, { email: "oncall@example.com" }],
    [
      { HOOKFLOW_ALARM_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:pager" },
      { topicArn: "arn:aws:sns:us-east-1:123456789012:pager" },
    ],
  ])("%j → %j", (env, settings) => {
    expect(alarmSettings(env)).toEqual(settings);
  });

  it.each([
    [{ HOOKFLOW_ALARM_EMAIL: "oncall" }, /HOOKFLOW_ALARM_EMAIL is not an email address/],
    [
      { HOOKFLOW_ALARM_TOPIC_ARN: "arn:aws:sqs:us-east-1:123456789012:q" },
      /HOOKFLOW_ALARM_TOPIC_ARN is not an SNS topic ARN/,
    ],
  ])("refuses %j, naming the setting", (env, message) => {
    expect(() => alarmSettings(env)).toThrow(message);
  });
});

it("the version /healthz and doctor show is package.json's", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  expect(HOOKFLOW_VERSION).toBe(pkg.version);
});
