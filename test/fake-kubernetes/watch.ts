import type { ServerResponse } from "node:http";
import type { FakeCluster } from "./cluster.js";
import { parseLabelSelector } from "./selectors.js";

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are handled as loose JSON, as in the cluster.
type Obj = any;
type Kind = "jobs" | "pods";
type EventType = "ADDED" | "MODIFIED" | "DELETED";

interface Change {
  type: EventType;
  kind: Kind;
  version: number;
  object: Obj;
}

interface Watcher {
  kind: Kind;
  namespace: string;
  matches: (labels: Record<string, string>) => boolean;
  res: ServerResponse;
}

/**
 * The API server's watch for Jobs and pods: every change since a resourceVersion, then each new one as it
 * happens, one JSON object a line. A change is found by comparing each object with how it was last seen, after
 * every mutation of the cluster (changes made in one synchronous step are one event, as etcd would batch them
 * no finer than the controllers write). History older than `expire()` answers a watch with 410 Gone (an ERROR
 * event, as the real server streams it), which sends a client back to list.
 */
export class WatchFeed {
  private readonly history: Change[] = [];
  private readonly seen = new Map<string, { json: string; object: Obj; kind: Kind }>();
  private readonly watchers = new Set<Watcher>();
  private lastFlushVersion = 0;
  private oldestVersion = 0;
  private scheduled = false;
  /** Watches answered 410 Gone (their resourceVersion was older than the history kept). */
  expiredAnswers = 0;

  constructor(private readonly cluster: FakeCluster) {
    cluster.onChange = () => this.schedule();
    this.flush();
  }

  /** Starts a watch on `res`; `from` is the client's resourceVersion ("" or "0": the current objects first). */
  open(res: ServerResponse, kind: Kind, namespace: string, selector: string | undefined, from: string) {
    const watcher: Watcher = { kind, namespace, matches: parseLabelSelector(selector), res };
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    // A client's watch() resolves once the answer's headers arrive, before any event.
    res.flushHeaders();
    const version = from === "" || from === "0" ? undefined : Number(from);
    if (version !== undefined && (!Number.isFinite(version) || version < this.oldestVersion)) {
      this.expiredAnswers += 1;
      this.write(watcher, {
        type: "ERROR",
        object: {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message: `too old resource version: ${from} (${this.oldestVersion})`,
          reason: "Expired",
          code: 410,
        },
      });
      res.end();
      return;
    }
    if (version === undefined) {
      for (const entry of this.seen.values())
        if (entry.kind === kind) this.send(watcher, { type: "ADDED", object: entry.object });
    } else for (const change of this.history) if (change.version > version) this.send(watcher, change);
    this.watchers.add(watcher);
    res.on("close", () => this.watchers.delete(watcher));
  }

  /** Forgets the history up to now: a watch resuming from an earlier resourceVersion gets 410 Gone. */
  expire(): void {
    this.flush();
    this.history.length = 0;
    this.oldestVersion = Number(this.cluster.nextVersion());
    this.lastFlushVersion = this.oldestVersion;
  }

  /** Ends every open watch, as the API server does when a watch's timeout passes. */
  closeAll(): void {
    for (const watcher of this.watchers) watcher.res.end();
    this.watchers.clear();
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  private schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush() {
    const current = new Map<string, { object: Obj; kind: Kind }>();
    for (const job of this.cluster.allJobs())
      current.set(`jobs/${job.metadata.namespace}/${job.metadata.name}`, { object: job, kind: "jobs" });
    for (const pod of this.cluster.allPods())
      current.set(`pods/${pod.metadata.namespace}/${pod.metadata.name}`, { object: pod, kind: "pods" });
    const changes: Array<Omit<Change, "version">> = [];
    for (const [key, { object, kind }] of current) {
      const json = JSON.stringify(object);
      const before = this.seen.get(key);
      if (before?.json === json) continue;
      changes.push({ type: before ? "MODIFIED" : "ADDED", kind, object });
      this.seen.set(key, { json, object, kind });
    }
    for (const [key, before] of this.seen)
      if (!current.has(key)) {
        changes.push({ type: "DELETED", kind: before.kind, object: before.object });
        this.seen.delete(key);
      }
    if (changes.length === 0) return;
    // Objects changed without a new resourceVersion (a deletion) still need one later than the last event's.
    let version = this.cluster.currentVersion();
    if (version <= this.lastFlushVersion) version = Number(this.cluster.nextVersion());
    this.lastFlushVersion = version;
    for (const change of changes) {
      const stamped: Change = {
        ...change,
        version,
        object: {
          ...change.object,
          metadata: { ...change.object.metadata, resourceVersion: String(version) },
        },
      };
      this.history.push(stamped);
      for (const watcher of this.watchers) this.send(watcher, stamped);
    }
  }

  private send(watcher: Watcher, change: { type: EventType; kind?: Kind; object: Obj }) {
    const { object } = change;
    if (change.kind !== undefined && change.kind !== watcher.kind) return;
    if (object.metadata.namespace !== watcher.namespace) return;
    if (!watcher.matches(object.metadata.labels ?? {})) return;
    this.write(watcher, { type: change.type, object });
  }

  private write(watcher: Watcher, event: { type: string; object: Obj }) {
    if (!watcher.res.destroyed) watcher.res.write(`${JSON.stringify(event)}\n`);
  }
}
