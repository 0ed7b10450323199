export type { Channel } from "./channel.js";
export { dingtalk, renderDingtalk } from "./dingtalk.js";
export { feishu, renderFeishu } from "./feishu.js";
export type { Fetch, HttpReply, OutgoingRequest, ServiceRefusal } from "./http.js";
export {
  createNotificationSender,
  DEFAULT_TIMEOUT_MS,
  type NotificationSenderOptions,
  RATE_LIMITS,
} from "./sender.js";
export { dingtalkSign, feishuSign, webhookSignature } from "./signing.js";
export { escapeSlack, renderSlack, slack } from "./slack.js";
export { describeNotice, formatDuration, type NoticeView } from "./view.js";
export {
  EVENT_HEADER,
  renderWebhook,
  SIGNATURE_HEADER,
  WEBHOOK_PAYLOAD_VERSION,
  webhook,
} from "./webhook.js";
export { renderWecom, WECOM_MAX_BYTES, wecom } from "./wecom.js";
