import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type {
  AuditLog,
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
  /** How long a delivered body is kept: a replay of it within this time is recognised. */
  deliveryTtlSeconds?: number;
  /** How long sent records are kept. */
  ledgerTtlSeconds?: number;
  /** How long audit entries are kept (HOOKFLOW_AUDIT_RETENTION_DAYS). */
  auditRetentionSeconds?: number;
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

/** What each store is built over: one table, and the options. */
export interface StoreTable {
  io: TableIO;
  options: DynamoStoreOptions;
}

export function storeTable(options: DynamoStoreOptions): StoreTable {
  return { io: new TableIO(options.client, options.table), options };
}

/** How to build some of the stores: a function builds those its routes use, and its bundle holds only those. */
export type StoreBuilders<K extends keyof Stores> = { readonly [P in K]: (table: StoreTable) => Stores[P] };

/** Each store by itself (issue 20: a function that never calls a store does not load its module). */
export const runStore = ({ io }: StoreTable): RunStore => new RunRepository(io);
export const deliveryStore = ({ io, options }: StoreTable): DeliveryStore =>
  new DeliveryRepository(io, options.deliveryTtlSeconds ?? DEFAULT_DELIVERY_TTL_SECONDS);
export const definitionStore = ({ io }: StoreTable): DefinitionStore => new DefinitionRepository(io);
export const sentLedger = ({ io, options }: StoreTable): DeliveryLedger =>
  new SentLedger(io, options.ledgerTtlSeconds ?? DEFAULT_LEDGER_TTL_SECONDS);
export const rateLimiter = ({ io }: StoreTable): RateLimiter => new RateLimitRepository(io);
export const repositoryStore = ({ io }: StoreTable): RepositoryStore => new RepositoryRepository(io);
export const tokenStore = ({ io }: StoreTable): TokenStore => new TokenRepository(io);
export const auditLog = ({ io, options }: StoreTable): AuditLog =>
  new AuditRepository(io, options.auditRetentionSeconds ?? DEFAULT_AUDIT_RETENTION_SECONDS);
export const taskSlotStore = ({ io }: StoreTable): TaskSlots => new TaskSlotRepository(io);
export const repositoryScheduleStore = ({ io }: StoreTable): RepositoryScheduleStore =>
  new RepositoryScheduleRepository(io);

/** Every store. */
export const EVERY_STORE: StoreBuilders<keyof Stores> = {
  runs: runStore,
  deliveries: deliveryStore,
  definitions: definitionStore,
  ledger: sentLedger,
  limiter: rateLimiter,
  repositories: repositoryStore,
  tokens: tokenStore,
  audit: auditLog,
  taskSlots: taskSlotStore,
  repositorySchedules: repositoryScheduleStore,
};

/** The stores `builders` name, over one table: each built once. */
export function buildStores<K extends keyof Stores>(
  table: StoreTable,
  builders: StoreBuilders<K>,
): Pick<Stores, K> {
  return Object.fromEntries(
    Object.entries(builders).map(([name, build]) => [name, (build as (t: StoreTable) => unknown)(table)]),
  ) as Pick<Stores, K>;
}

/** Builds every repository from one client and table name. */
export function dynamoStores(options: DynamoStoreOptions): Stores {
  return buildStores(storeTable(options), EVERY_STORE);
}
