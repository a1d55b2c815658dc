// The operator settings file as written, once schemas/settings.schema.json has accepted
// it: the schema is the definition of its keys and what they hold; this type only lets
// settings.ts read them with the compiler's help. A section left empty (`leases:`) is
// null, read as no keys.

type Duration = string;
/** `500m`, `1.5`, or a YAML number of cores. */
type Cpu = string | number;
/** `256Mi`, or a YAML number of bytes. */
type Memory = string | number;

export interface SettingsFile {
  defaultIdleTimeout?: Duration;
  defaultMemory?: Memory;
  resyncInterval?: Duration;
  stopTimeout?: Duration;
  stoppedRetention?: Duration;
  revisionHistoryLimit?: number;
  maxUploadBytes?: number;
  maxContextBytes?: number;
  maxContextEntries?: number;
  instance?: string;
  logHeartbeatInterval?: Duration;
  leases?: {
    minTtl?: Duration;
    maxTtl?: Duration;
    minCpu?: Cpu;
    maxCpu?: Cpu;
    minMemory?: Memory;
    maxMemory?: Memory;
    defaultCpu?: Cpu;
    defaultMemory?: Memory;
    maxActive?: number;
    gracePeriod?: Duration;
  } | null;
  prices?: { vcpuSecond?: number; gibSecond?: number; currency?: string } | null;
  imageAllowlist?: string[];
  pool?: { batchSize?: number; batchSpacing?: Duration } | null;
  sync?: { debounce?: Duration; emptyGracePeriod?: Duration; maxPruneShare?: number; writeFinish?: Duration } | null;
  webhooks?: {
    urls?: string[];
    queueSize?: number;
    maxAttempts?: number;
    retryDelay?: Duration;
    timeout?: Duration;
    secret?: string;
  } | null;
  /** Checked and read by src/compat/settings.ts. */
  compat?: Record<string, unknown> | null;
  admission?: { memoryLimit?: Memory; unlimitedContainerMemory?: Memory } | null;
}
