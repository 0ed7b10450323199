import { Agent, type AgentOptions, type RequestOptions } from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { nodeNet } from "./node-builtins.js";

const keyOf = (host: string, port: string | number) => `${host}:${port}`;

/**
 * An https.Agent that can open connections before a request asks for them, each handed to the next request to its
 * host: the TCP and TLS handshakes then fall in what a cold start waits for anyway (its first DynamoDB request),
 * not in front of a request. A connection nobody takes holds no process open (unref'd) and is dropped once it
 * closes or fails; a request then opens its own, as without it. Only https: a plain connection costs next to nothing.
 */
export class WarmAgent extends Agent {
  private readonly waiting = new Map<string, Socket>();
  private spareNext = false;

  constructor(options: AgentOptions = {}) {
    super({ keepAlive: true, ...options });
  }

  /** Opens a connection to `origin` now (https: only), unless one is waiting already. */
  warm(origin: string): void {
    const { protocol, hostname, port } = new URL(origin);
    if (protocol === "https:") this.open(hostname.replace(/^\[|\]$/g, ""), port || "443");
  }

  /** The next connection a request must open opens a second to its host beside it, for requests sent in parallel. */
  spareOnce(): void {
    this.spareNext = true;
  }

  override createConnection(
    options: RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const key = keyOf(options.host ?? "localhost", options.port ?? 443);
    const socket = this.waiting.get(key);
    this.waiting.delete(key);
    if (socket && !socket.destroyed) return socket.ref();
    if (this.spareNext) {
      this.spareNext = false;
      this.open(options.host ?? "localhost", String(options.port ?? 443));
    }
    return super.createConnection(options, callback);
  }

  private open(host: string, port: string): void {
    const key = keyOf(host, port);
    if (this.waiting.has(key)) return;
    const socket = super.createConnection({
      ...this.options,
      host,
      port: Number(port),
      ...(!this.options.servername && !nodeNet.isIP(host) && { servername: host }),
    }) as Socket;
    socket.unref();
    const drop = () => {
      if (this.waiting.get(key) === socket) this.waiting.delete(key);
    };
    // Before a request takes it, a failure only drops it; after, its request sees the error too.
    socket.on("error", drop);
    socket.once("close", drop);
    this.waiting.set(key, socket);
  }
}
