import { lookup as dnsLookup } from "node:dns";
import type { IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { notifyUrlProblem, resolvedAddressProblem, type TargetRules } from "../../model/index.js";
import { nodeHttp } from "../node-builtins.js";
import { type HttpReply, MAX_REPLY_BYTES, type OutgoingRequest, type Send, TargetRefused } from "./http.js";

/**
 * The notification senders' HTTP client: a POST that goes only where core/model/addresses.ts allows. The URL
 * is checked first (an IP literal is connected to as it is, without a lookup); a name is resolved once, every
 * address it resolved to is checked, and the connection is made to the checked address (the `lookup` hook
 * hands it to the socket), so a DNS answer that changes between a check and a connect (rebinding) cannot
 * move the request. No connection is pooled; redirects are never followed (the caller refuses 3xx).
 */

/** Resolves a name to all its addresses: `dns.lookup` (the system's resolver) unless a test gives another. */
export type Resolve = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const systemResolve: Resolve = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );

export function guardedSend(rules: TargetRules, resolve: Resolve = systemResolve): Send {
  return (request, limits) => {
    const url = new URL(request.url);
    const problem = notifyUrlProblem(url.href, rules);
    if (problem) return Promise.reject(new TargetRefused(problem));
    const lookup: LookupFunction = (hostname, options, callback) => {
      resolve(hostname).then(
        (addresses) => {
          const refused = addresses.map((a) => resolvedAddressProblem(a.address, rules)).find(Boolean);
          if (refused) return callback(new TargetRefused(`${hostname} resolves to ${refused}`), "", 0);
          if (addresses.length === 0) return callback(new Error(`${hostname}: no address`), "", 0);
          if (options.all) return (callback as AllCallback)(null, addresses);
          const first = addresses.find((a) => !options.family || a.family === options.family) ?? addresses[0];
          callback(null, first?.address ?? "", first?.family ?? 4);
        },
        (error: unknown) => callback(error as NodeJS.ErrnoException, "", 0),
      );
    };
    return post(url, request, limits, lookup);
  };
}

type AllCallback = (error: null, addresses: Array<{ address: string; family: number }>) => void;

function post(
  url: URL,
  request: OutgoingRequest,
  limits: { timeoutMs: number },
  lookup: LookupFunction,
): Promise<HttpReply> {
  const body = Buffer.from(request.body, "utf8");
  const send = url.protocol === "https:" ? httpsRequest : nodeHttp.request;
  return new Promise<HttpReply>((resolve, reject) => {
    const req = send(url, {
      method: "POST",
      headers: { ...request.headers, "content-length": String(body.length) },
      lookup,
      agent: false,
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy(new TimeoutExpired());
    }, limits.timeoutMs);
    const fail = (error: unknown) => {
      clearTimeout(timer);
      reject(timedOut ? new TimeoutExpired() : error);
    };
    req.on("error", fail);
    req.on("response", (response) =>
      readBounded(response).then((reply) => {
        clearTimeout(timer);
        // The rest of an answer is never read: the connection is dropped (agent: false, nothing pooled).
        req.destroy();
        resolve(reply);
      }, fail),
    );
    req.end(body);
  });
}

/** The status, headers and at most MAX_REPLY_BYTES of the body. */
function readBounded(response: IncomingMessage): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      response.removeAllListeners("data");
      resolve({
        status: response.statusCode ?? 0,
        headers: headersOf(response),
        text: Buffer.concat(chunks).subarray(0, MAX_REPLY_BYTES).toString("utf8"),
      });
    };
    response.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_REPLY_BYTES) {
        response.pause();
        done();
      }
    });
    response.on("end", done);
    response.on("error", reject);
  });
}

function headersOf(response: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return headers;
}

/** Thrown into the request when its deadline passes; `deliver` reports it as "no answer within". */
export class TimeoutExpired extends Error {
  override name = "TimeoutError";
}
