import { gunzipSync, gzipSync } from "node:zlib";
import {
  GetObjectCommand,
  HeadBucketCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { RetryableError } from "../../errors.js";
import type { ArchivedAttempt, AttemptKey, AttemptLogToKeep, LogArchive } from "../../ports.js";

/** The uncompressed size of one stored part: a tail reads the newest parts only. */
export const LOG_PART_BYTES = 1024 * 1024;

/** The keys s3rver accepts (its fixed defaults): for the emulator only. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export interface S3Settings {
  region: string;
  /** An S3-compatible endpoint (s3rver locally); unset on AWS. */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * The one S3 client configuration. Checksums only when an operation requires them: with the SDK's default
 * (a CRC on every upload, sent as aws-chunked framing), s3rver stores the framing as the object's content.
 */
export function createS3Client(settings: S3Settings): S3Client {
  return new S3Client({
    region: settings.region,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...(settings.endpoint && { endpoint: settings.endpoint, forcePathStyle: true }),
    ...(settings.credentials && { credentials: settings.credentials }),
  });
}

interface StoredContainer {
  name: string;
  init: boolean;
  timestamps: boolean;
  bytes: number;
  cut?: boolean;
  /** Oldest first; each `parts[i]` is the object `<container>/<i>.log.gz`. */
  parts: Array<{ bytes: number; lines: number }>;
}

interface StoredIndex {
  schema: 1;
  archivedAt: string;
  gone?: string;
  containers: StoredContainer[];
}

/**
 * Keys: `logs/<run>/<task>/<attempt>/index.json` (what is kept, written last) and
 * `logs/<run>/<task>/<attempt>/<container>/<n>.log.gz` (the log in parts of about LOG_PART_BYTES, whole lines,
 * gzip). Names are URI-encoded, so no name can reach another attempt's keys.
 */
export class S3LogArchive implements LogArchive {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly partBytes = LOG_PART_BYTES,
  ) {}

  async reachable(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const status = (error as S3ServiceException).$metadata?.httpStatusCode;
      const why =
        status === 404
          ? "it does not exist"
          : status === 403
            ? "this deployment's credentials may not read it"
            : error instanceof Error
              ? error.message
              : String(error);
      throw new Error(`bucket ${this.bucket} cannot be reached: ${why}`);
    }
  }

  async find(key: AttemptKey): Promise<ArchivedAttempt | undefined> {
    const index = await this.index(key);
    return index && describe(index);
  }

  async keep(key: AttemptKey, log: AttemptLogToKeep): Promise<ArchivedAttempt> {
    const containers: StoredContainer[] = [];
    for (const container of log.containers) {
      const parts = splitParts(container.text, this.partBytes);
      // Parts one after another: a log's upload holds at most one part in memory besides the text.
      for (const [n, part] of parts.entries())
        await this.put(`${this.prefix(key)}${enc(container.name)}/${n}.log.gz`, gzipSync(part.text), "gzip");
      containers.push({
        name: container.name,
        init: container.init,
        timestamps: container.timestamps,
        bytes: Buffer.byteLength(container.text),
        ...(container.cut && { cut: true }),
        parts: parts.map((p) => ({ bytes: Buffer.byteLength(p.text), lines: p.lines })),
      });
    }
    const index: StoredIndex = {
      schema: 1,
      archivedAt: log.archivedAt,
      ...(log.gone !== undefined && { gone: log.gone }),
      containers,
    };
    await this.put(`${this.prefix(key)}index.json`, Buffer.from(JSON.stringify(index)));
    return describe(index);
  }

  async read(
    key: AttemptKey,
    container: string,
    want: { tail?: number; minBytes: number },
  ): Promise<{ text: string; cut: boolean }> {
    const index = await this.index(key);
    const stored = index?.containers.find((c) => c.name === container);
    if (!stored) return { text: "", cut: false };
    const chunks: string[] = [];
    let lines = 0;
    let bytes = 0;
    let n = stored.parts.length - 1;
    for (; n >= 0; n--) {
      if ((want.tail === undefined || lines >= want.tail) && bytes >= want.minBytes) break;
      const part = stored.parts[n] as { bytes: number; lines: number };
      const body = await this.get(`${this.prefix(key)}${enc(container)}/${n}.log.gz`);
      if (!body) throw new RetryableError(`part ${n} of the archived log of ${container} is missing`);
      chunks.unshift(gunzipSync(body).toString("utf8"));
      lines += part.lines;
      bytes += part.bytes;
    }
    return { text: chunks.join(""), cut: n >= 0 || stored.cut === true };
  }

  private prefix(key: AttemptKey): string {
    return `logs/${enc(key.runId)}/${enc(key.task)}/${key.attempt}/`;
  }

  private async index(key: AttemptKey): Promise<StoredIndex | undefined> {
    const body = await this.get(`${this.prefix(key)}index.json`);
    return body && (JSON.parse(Buffer.from(body).toString("utf8")) as StoredIndex);
  }

  private async put(key: string, body: Uint8Array, encoding?: "gzip"): Promise<void> {
    await this.send(`store ${key}`, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: encoding ? "text/plain; charset=utf-8" : "application/json",
          ServerSideEncryption: "AES256",
          ...(encoding && { ContentEncoding: encoding }),
        }),
      ),
    );
  }

  private async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await answer.Body?.transformToByteArray();
    } catch (error) {
      if (error instanceof NoSuchKey || (error instanceof S3ServiceException && error.name === "NoSuchKey"))
        return undefined;
      throw archiveError(`read ${key}`, error);
    }
  }

  private async send<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw archiveError(what, error);
    }
  }
}

/** Every failure of the archive may pass (an outage, a throttle): the copy stays owed and is retried. */
function archiveError(what: string, error: unknown): RetryableError {
  const message = error instanceof Error ? error.message || error.name : String(error);
  return new RetryableError(`log archive: could not ${what}: ${message}`, undefined, { cause: error });
}

const enc = encodeURIComponent;

function describe(index: StoredIndex): ArchivedAttempt {
  return {
    archivedAt: index.archivedAt,
    ...(index.gone !== undefined && { gone: index.gone }),
    containers: index.containers.map(({ parts: _parts, ...container }) => container),
  };
}

/** Whole lines in parts of at most `partBytes` (a longer line is a part of its own). */
export function splitParts(text: string, partBytes: number): Array<{ text: string; lines: number }> {
  const parts: Array<{ text: string; lines: number }> = [];
  let current: string[] = [];
  let size = 0;
  const flush = () => {
    if (current.length === 0) return;
    parts.push({ text: current.join(""), lines: current.length });
    current = [];
    size = 0;
  };
  for (const line of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
    const bytes = Buffer.byteLength(line);
    if (size + bytes > partBytes) flush();
    current.push(line);
    size += bytes;
  }
  flush();
  return parts;
}
