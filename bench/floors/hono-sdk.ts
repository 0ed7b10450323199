// The floor for cold starts (issue 20): Hono and the DynamoDB and SQS clients the design names, answering one
// request with the SDK work a hookflow function's main route does at least: one strongly consistent GetItem,
// one conditional PutItem of a new item, one SendMessage to the FIFO work queue. The clients are created on the
// first request and pointed at the emulators the same way core/wiring.ts points hookflow's at them, so the
// difference to a function is hookflow's own code and libraries. Settings: FLOOR_TABLE, FLOOR_QUEUE_URL.
import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { Hono } from "hono";
import { handle } from "hono/aws-lambda";

const local = (endpoint: string | undefined) =>
  endpoint ? { endpoint, credentials: { accessKeyId: "local", secretAccessKey: "local" } } : {};

let clients: { dynamo: DynamoDBClient; sqs: SQSClient } | undefined;
const app = new Hono();
app.post("/floor", async (c) => {
  const { id } = await c.req.json<{ id: string }>();
  const region = process.env.AWS_REGION;
  clients ??= {
    dynamo: new DynamoDBClient({ region, ...local(process.env.HOOKFLOW_DYNAMODB_ENDPOINT) }),
    sqs: new SQSClient({ region, ...local(process.env.HOOKFLOW_SQS_ENDPOINT) }),
  };
  const TableName = process.env.FLOOR_TABLE;
  const key = { pk: { S: `FLOOR#${id}` }, sk: { S: "FLOOR" } };
  await clients.dynamo.send(new GetItemCommand({ TableName, Key: key, ConsistentRead: true }));
  await clients.dynamo.send(
    new PutItemCommand({
      TableName,
      Item: { ...key, at: { S: new Date().toISOString() } },
      ConditionExpression: "attribute_not_exists(pk)",
    }),
  );
  await clients.sqs.send(
    new SendMessageCommand({
      QueueUrl: process.env.FLOOR_QUEUE_URL,
      MessageBody: JSON.stringify({ id }),
      MessageGroupId: id,
      MessageDeduplicationId: id,
    }),
  );
  return c.json({ id }, 202);
});
export const handler = handle(app);
