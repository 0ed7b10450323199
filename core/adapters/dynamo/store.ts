import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type {
  AuditLog,
  Clock,
  DefinitionStore,
  DeliveryLedger,
  DeliveryStore,
  RateLimiter,
  RepositoryScheduleStore,
  RepositoryStore,
  RunStore,
  TaskSlots,
  TokenStore,
} from "../../ports.js";
import { systemClock } from "../system.js";
import { AuditRepository } from "./audit.js";
import { DefinitionRepository } from "./definitions.js";
import { DeliveryRepository } from "./deliveries.js";
import { SentLedger } from "./ledger.js";
import { RateLimitRepository } from "./rate-limits.js";
import { RepositoryRepository } from "./repositories.js";
import { RepositoryScheduleRepository } from "./repository-schedules.js";
import { RunRepository } from "./runs.js";
import { TableIO } from "./table-io.js";
import { TaskSlotRepository } from "./task-slots.js";
import { TokenRepository } from "./tokens.js";

export interface DynamoStoreOptions {
  client: DynamoDBClient;
  table: string;
  /** How long delivery records are kept: a git host's redelivery, or a replayed body, within this time is recognised. */
  deliveryTtlSeconds?: number;
  /** How long sent records are kept. */
  ledgerTtlSeconds?: number;
  /** How long audit entries are kept (HOOKFLOW_AUDIT_RETENTION_DAYS). */
  auditRetentionSeconds?: number;
  clock?: Clock;
}

/** The state ports, one repository each, all over one table (its layout: table.ts). */
export interface Stores {
  runs: RunStore;
  deliveries: DeliveryStore;
  definitions: DefinitionStore;
  ledger: DeliveryLedger;
  limiter: RateLimiter;
  repositories: RepositoryStore;
  tokens: TokenStore;
  audit: AuditLog;
  taskSlots: TaskSlots;
  repositorySchedules: RepositoryScheduleStore;
}

export const DEFAULT_DELIVERY_TTL_SECONDS = 7 * 24 * 3600;
export const DEFAULT_LEDGER_TTL_SECONDS = 30 * 24 * 3600;
export const DEFAULT_AUDIT_RETENTION_SECONDS = 365 * 24 * 3600;

/** Builds every repository from one client and table name. */
export function dynamoStores(options: DynamoStoreOptions): Stores {
  const io = new TableIO(options.client, options.table);
  const runs = new RunRepository(io);
  return {
    runs,
    deliveries: new DeliveryRepository(
      io,
      runs,
      options.deliveryTtlSeconds ?? DEFAULT_DELIVERY_TTL_SECONDS,
      options.clock ?? systemClock,
    ),
    definitions: new DefinitionRepository(io),
    ledger: new SentLedger(io, options.ledgerTtlSeconds ?? DEFAULT_LEDGER_TTL_SECONDS),
    limiter: new RateLimitRepository(io),
    repositories: new RepositoryRepository(io),
    tokens: new TokenRepository(io),
    audit: new AuditRepository(io, options.auditRetentionSeconds ?? DEFAULT_AUDIT_RETENTION_SECONDS),
    taskSlots: new TaskSlotRepository(io),
    repositorySchedules: new RepositoryScheduleRepository(io),
  };
}
