// A second floor: Hono plus the two SDK clients every hookflow function needs, created on first use as
// hookflow's own functions do, so the difference to a function is hookflow's own code and libraries.
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { Hono } from "hono";
import { handle } from "hono/aws-lambda";

let clients: { dynamo: DynamoDBClient; sqs: SQSClient } | undefined;
const app = new Hono();
app.post("/", async (c) => {
  clients ??= { dynamo: new DynamoDBClient({}), sqs: new SQSClient({}) };
  await clients.dynamo.send(new PutItemCommand({ TableName: "runs", Item: { pk: { S: "run" } } }));
  await clients.sqs.send(new SendMessageCommand({ QueueUrl: "queue", MessageBody: "run" }));
  return c.text("ok");
});
export const handler = handle(app);
