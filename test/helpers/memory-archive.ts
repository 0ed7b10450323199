import type { ArchivedAttempt, AttemptKey, AttemptLogToKeep, LogArchive } from "../../core/ports.js";

/**
 * A log archive held in memory, for the runner contract's run against the in-memory runner (test/unit starts no
 * s3rver); the real runners' runs keep their logs in S3 on s3rver. Like the S3 archive, it stores what it is given
 * (already masked) and reads a container whole.
 */
export class MemoryLogArchive implements LogArchive {
  private readonly kept = new Map<string, { attempt: ArchivedAttempt; texts: Map<string, string> }>();

  async find(key: AttemptKey): Promise<ArchivedAttempt | undefined> {
    return this.kept.get(keyOf(key))?.attempt;
  }

  async keep(key: AttemptKey, log: AttemptLogToKeep): Promise<ArchivedAttempt> {
    const attempt: ArchivedAttempt = {
      containers: log.containers.map((c) => ({
        name: c.name,
        init: c.init,
        timestamps: c.timestamps,
        bytes: Buffer.byteLength(c.text),
        ...(c.cut && { cut: true }),
      })),
      ...(log.gone !== undefined && { gone: log.gone }),
      archivedAt: log.archivedAt,
    };
    this.kept.set(keyOf(key), { attempt, texts: new Map(log.containers.map((c) => [c.name, c.text])) });
    return attempt;
  }

  async read(key: AttemptKey, container: string): Promise<{ text: string; cut: boolean }> {
    const text = this.kept.get(keyOf(key))?.texts.get(container);
    if (text === undefined) throw new Error(`no archived log of ${container} for ${keyOf(key)}`);
    return { text, cut: false };
  }

  async reachable(): Promise<void> {}
}

const keyOf = (key: AttemptKey) => `${key.runId}/${key.task}/${key.attempt}`;
