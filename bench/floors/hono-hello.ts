// The floor for cold starts: the least a Hono function on Lambda loads.
import { Hono } from "hono";
import { handle } from "hono/aws-lambda";

const app = new Hono();
app.get("/", (c) => c.text("hello"));
export const handler = handle(app);
