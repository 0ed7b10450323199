/**
 * hookflow on AWS: the table, the FIFO work queue and its dead-letter queue, the standard wake-up queue, the
 * log bucket, the secrets, one HTTP API in front of the webhook, callback and API functions, the scheduler on the
 * work queue, the wake-up function on the wake-up queue, the reconciler every minute. What each
 * function is (handler, memory, timeout, what it is linked to) is data in infra/functions.ts.
 *
 * Only called from `run()` in sst.config.ts, where SST's globals (`sst`, `$app`) exist.
 */
import { type LinkedSetting, loadConfig, SST_LINKS } from "../../core/config.js";
import { ValidationError } from "../../core/errors.js";
import { ALARMS, type AlarmSubject, alarmSettings } from "../alarms.js";
import {
  BUNDLING,
  deploySettings,
  eksSettings,
  FUNCTION_URLS,
  FUNCTIONS,
  type FunctionName,
  type FunctionPlan,
  notBundledFiles,
  PRESENT,
  QUEUE,
  RECONCILE_SCHEDULE,
  ROUTES,
  talksToKubernetes,
  VPC_ENDPOINTS,
  type VpcPlan,
  vpcPlan,
  WAKE_QUEUE,
} from "../functions.js";
import { tableArgs } from "../table.js";

type Secret = InstanceType<typeof sst.Secret>;
type SecretSetting = Exclude<
  LinkedSetting,
  | "HOOKFLOW_TABLE"
  | "HOOKFLOW_QUEUE_URL"
  | "HOOKFLOW_WAKE_QUEUE_URL"
  | "HOOKFLOW_PUBLIC_URL"
  | "HOOKFLOW_CALLBACK_BASE_URL"
  | "HOOKFLOW_LOG_BUCKET"
>;

export function hookflow() {
  const settings = deploySettings(process.env);
  const eks = eksSettings(process.env);
  const vpc = vpcPlan(process.env);
  const alarmTargets = alarmSettings(process.env);
  // A bad setting fails the deploy, listing its problems, rather than every function at its first start. The
  // endpoint and CA the deploy looks up stand in as a well-formed pair while it checks the rest.
  let retentionDays: number;
  try {
    retentionDays = loadConfig({
      ...settings,
      ...eks.settings,
      ...(eks.lookUp && {
        HOOKFLOW_EKS_ENDPOINT: "https://looked.up.at.deploy",
        HOOKFLOW_EKS_CA_DATA: "AA==",
      }),
    }).HOOKFLOW_LOG_RETENTION_DAYS;
  } catch (error) {
    throw error instanceof ValidationError ? new Error(error.explain()) : error;
  }
  // Where the EKS cluster is, for the functions that talk to it: given, or read from EKS at deploy.
  const eksEnvironment: Record<string, $util.Input<string>> = { ...eks.settings };
  if (eks.lookUp) {
    const cluster = aws.eks.getClusterOutput({ name: eks.settings.HOOKFLOW_EKS_CLUSTER as string });
    eksEnvironment.HOOKFLOW_EKS_ENDPOINT = cluster.endpoint;
    eksEnvironment.HOOKFLOW_EKS_CA_DATA = cluster.certificateAuthorities.apply((cas) => cas[0]?.data ?? "");
  }
  if (vpc) vpcEndpoints(vpc);

  const table = new sst.aws.Dynamo(SST_LINKS.HOOKFLOW_TABLE.link, {
    ...tableArgs(),
    deletionProtection: $app.stage === "production",
  });

  const deadLetters = new sst.aws.Queue("HookflowDeadLetterQueue", {
    fifo: true,
    transform: { queue: { messageRetentionSeconds: QUEUE.deadLetterRetentionSeconds } },
  });
  const queue = new sst.aws.Queue(SST_LINKS.HOOKFLOW_QUEUE_URL.link, {
    fifo: true,
    visibilityTimeout: `${QUEUE.visibilityTimeoutSeconds} seconds`,
    dlq: { queue: deadLetters.arn, retry: QUEUE.maxReceiveCount },
  });

  // Standard, not FIFO: only a standard queue delays each message by its own DelaySeconds.
  const wakeQueue = new sst.aws.Queue(SST_LINKS.HOOKFLOW_WAKE_QUEUE_URL.link, {
    visibilityTimeout: `${WAKE_QUEUE.visibilityTimeoutSeconds} seconds`,
    transform: { queue: { messageRetentionSeconds: WAKE_QUEUE.retentionSeconds } },
  });

  // Ended attempts' logs: private (SST blocks public access), encrypted at rest (every object is written with
  // SSE-S3, and HTTPS is enforced), kept HOOKFLOW_LOG_RETENTION_DAYS days.
  const logs = new sst.aws.Bucket(SST_LINKS.HOOKFLOW_LOG_BUCKET.link, {
    lifecycle: [{ id: "expire-logs", prefix: "logs/", expiresIn: `${retentionDays} days` }],
  });

  const secret = (setting: SecretSetting, placeholder?: string) =>
    new sst.Secret(SST_LINKS[setting].link, placeholder);
  // Without these three nothing works, so a deploy refuses to start until `sst secret set` gave them. The
  // others are optional: empty means "not configured" (that provider's webhooks are refused, no commit statuses).
  const secrets: Record<SecretSetting, Secret> = {
    HOOKFLOW_API_TOKEN: secret("HOOKFLOW_API_TOKEN"),
    HOOKFLOW_TOKEN_SECRET: secret("HOOKFLOW_TOKEN_SECRET"),
    // Not needed on EKS with HOOKFLOW_EKS_CLUSTER: the functions sign in with their IAM roles.
    HOOKFLOW_KUBECONFIG: secret("HOOKFLOW_KUBECONFIG", eks.settings.HOOKFLOW_EKS_CLUSTER ? "" : undefined),
    HOOKFLOW_RELAY_TOKEN: secret("HOOKFLOW_RELAY_TOKEN", ""),
    HOOKFLOW_GITHUB_SECRET: secret("HOOKFLOW_GITHUB_SECRET", ""),
    HOOKFLOW_GITLAB_TOKEN: secret("HOOKFLOW_GITLAB_TOKEN", ""),
    HOOKFLOW_GITEA_SECRET: secret("HOOKFLOW_GITEA_SECRET", ""),
    HOOKFLOW_GITHUB_TOKEN: secret("HOOKFLOW_GITHUB_TOKEN", ""),
    HOOKFLOW_GITLAB_API_TOKEN: secret("HOOKFLOW_GITLAB_API_TOKEN", ""),
    HOOKFLOW_GITEA_TOKEN: secret("HOOKFLOW_GITEA_TOKEN", ""),
    HOOKFLOW_OIDC_CLIENT_SECRET: secret("HOOKFLOW_OIDC_CLIENT_SECRET", ""),
  };

  // No browser calls hookflow (the API takes a bearer token, git hosts and jobs call server to server).
  const http = new sst.aws.ApiGatewayV2(SST_LINKS.HOOKFLOW_PUBLIC_URL.link, { cors: false });

  type Component = Secret | typeof table | typeof queue | typeof http | typeof logs | sst.aws.Function;
  // The callback function's URL is linked once that function exists (below), before the scheduler is made.
  const components: Partial<Record<LinkedSetting, Component>> &
    Record<Exclude<LinkedSetting, "HOOKFLOW_CALLBACK_BASE_URL">, Component> = {
    HOOKFLOW_TABLE: table,
    HOOKFLOW_QUEUE_URL: queue,
    HOOKFLOW_WAKE_QUEUE_URL: wakeQueue,
    HOOKFLOW_LOG_BUCKET: logs,
    // The URL belongs to the API resource, not to its routes: linking it adds no cycle.
    HOOKFLOW_PUBLIC_URL: http,
    ...secrets,
  };

  const functionArgs = (name: FunctionName) => {
    const plan: FunctionPlan = FUNCTIONS[name];
    const kubernetes = talksToKubernetes(name);
    // On EKS the kubeconfig is not linked at all: one way to say where the cluster is, not two.
    const links = plan.links.filter(
      (setting) => !(setting === "HOOKFLOW_KUBECONFIG" && eks.settings.HOOKFLOW_EKS_CLUSTER),
    );
    const presence = Object.fromEntries(
      (plan.presenceOf ?? []).map((setting) => [
        setting,
        secrets[setting as SecretSetting].value.apply((value) => (value ? PRESENT : "")),
      ]),
    );
    return {
      handler: plan.handler,
      runtime: "nodejs22.x" as const,
      architecture: "arm64" as const,
      memory: `${plan.memoryMb} MB` as const,
      timeout: `${plan.timeoutSeconds} seconds` as const,
      link: links.map((setting) => {
        const component = components[setting];
        if (!component) throw new Error(`${name} links ${setting}, which is made after it`);
        return component;
      }),
      environment: { ...settings, ...plan.environment, ...presence, ...(kubernetes && eksEnvironment) },
      ...(kubernetes &&
        vpc && { vpc: { privateSubnets: vpc.privateSubnets, securityGroups: vpc.securityGroups } }),
      nodejs: {
        format: BUNDLING.format,
        minify: BUNDLING.minify,
        splitting: BUNDLING.splitting,
        // SST runs from the app's directory, the repository's root.
        esbuild: { keepNames: BUNDLING.keepNames, external: notBundledFiles(name, process.cwd()) },
      },
    };
  };

  const handlers = {
    webhook: new sst.aws.Function("HookflowWebhook", {
      ...functionArgs("webhook"),
      url: FUNCTION_URLS.webhook,
    }),
    callback: new sst.aws.Function(SST_LINKS.HOOKFLOW_CALLBACK_BASE_URL.link, {
      ...functionArgs("callback"),
      url: FUNCTION_URLS.callback,
    }),
    api: new sst.aws.Function("HookflowApiFunction", {
      ...functionArgs("api"),
      // `GET /api/doctor` counts the dead letters: the queue it finds through the work queue's RedrivePolicy.
      permissions: [{ actions: ["sqs:GetQueueUrl", "sqs:GetQueueAttributes"], resources: [deadLetters.arn] }],
    }),
  };
  for (const [route, name] of Object.entries(ROUTES)) http.route(route, handlers[name].arn);
  components.HOOKFLOW_CALLBACK_BASE_URL = handlers.callback;

  const scheduler = queue.subscribe(functionArgs("scheduler"), {
    batch: { size: QUEUE.batchSize, partialResponses: true },
  });
  wakeQueue.subscribe(functionArgs("wakeUps"), {
    batch: { size: WAKE_QUEUE.batchSize, partialResponses: true },
  });
  new sst.aws.CronV2("HookflowReconciler", {
    function: functionArgs("reconciler"),
    schedule: RECONCILE_SCHEDULE,
  });

  // The alarms of infra/alarms.ts, on AWS's own metrics of the queues and the scheduler.
  const topic = alarmTargets.email ? new sst.aws.SnsTopic("HookflowAlarms") : undefined;
  if (topic && alarmTargets.email)
    new aws.sns.TopicSubscription("HookflowAlarmsEmail", {
      topic: topic.arn,
      protocol: "email",
      endpoint: alarmTargets.email,
    });
  const actions = [...(topic ? [topic.arn] : []), ...(alarmTargets.topicArn ? [alarmTargets.topicArn] : [])];
  const dimensionsOf: Record<AlarmSubject, () => Record<string, $util.Input<string>>> = {
    workQueue: () => ({ QueueName: queue.nodes.queue.name }),
    deadLetterQueue: () => ({ QueueName: deadLetters.nodes.queue.name }),
    scheduler: () => ({ FunctionName: scheduler.nodes.function.apply((fn) => fn.name) }),
  };
  for (const alarm of ALARMS)
    new aws.cloudwatch.MetricAlarm(`HookflowAlarm-${alarm.name}`, {
      name: `${$app.name}-${$app.stage}-${alarm.name}`,
      alarmDescription: alarm.description,
      namespace: alarm.namespace,
      metricName: alarm.metricName,
      dimensions: dimensionsOf[alarm.subject](),
      statistic: alarm.statistic,
      period: alarm.periodSeconds,
      evaluationPeriods: alarm.evaluationPeriods,
      datapointsToAlarm: alarm.datapointsToAlarm,
      threshold: alarm.threshold,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      // No data: an empty queue publishes nothing and an idle scheduler has no errors: that is healthy.
      treatMissingData: "notBreaching",
      alarmActions: actions,
      okActions: actions,
    });

  return {
    url: http.url,
    // Where the relay reports (its HOOKFLOW_URL) and the scheduler's Jobs do.
    callbackUrl: handlers.callback.url,
    // Where git hosts deliver webhooks (`<webhookUrl>/webhooks/github`); `url` takes them too.
    webhookUrl: handlers.webhook.url,
    table: table.name,
    queue: queue.url,
    wakeQueue: wakeQueue.url,
    deadLetterQueue: deadLetters.url,
    logBucket: logs.name,
    // The IAM roles that act in the cluster: on EKS, each gets an access entry (README, Kubernetes).
    schedulerRole: scheduler.nodes.function.apply((fn) => fn.nodes.role.arn),
    apiRole: handlers.api.nodes.role.arn,
  };
}

/**
 * The endpoints HOOKFLOW_VPC_ENDPOINTS asks for, in the VPC of the first subnet: DynamoDB and S3 as gateway
 * endpoints on the named route tables (free), SQS as an interface endpoint in the subnets (billed by the hour),
 * with private DNS so that the SDK's usual SQS address resolves to it.
 */
function vpcEndpoints(vpc: VpcPlan) {
  const vpcId = aws.ec2.getSubnetOutput({ id: vpc.privateSubnets[0] as string }).vpcId;
  const region = aws.getRegionOutput().region;
  for (const service of vpc.endpoints) {
    const name = `HookflowVpcEndpoint${service[0]?.toUpperCase()}${service.slice(1)}`;
    const serviceName = $interpolate`com.amazonaws.${region}.${service}`;
    if (VPC_ENDPOINTS[service] === "Gateway")
      new aws.ec2.VpcEndpoint(name, {
        vpcId,
        serviceName,
        vpcEndpointType: "Gateway",
        routeTableIds: vpc.routeTables,
      });
    else
      new aws.ec2.VpcEndpoint(name, {
        vpcId,
        serviceName,
        vpcEndpointType: "Interface",
        subnetIds: vpc.privateSubnets,
        securityGroupIds: vpc.securityGroups,
        privateDnsEnabled: true,
      });
  }
}
