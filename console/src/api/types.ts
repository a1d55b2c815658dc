// The shapes the console reads from the API. Objects come from the model's own types;
// events and usage are declared here as the API sends them, so that the console's build
// never reaches into server modules.
export type { Condition, ImageObject, Kind, LeaseObject, LumaObject, ProjectObject } from '../../../src/model/types.js';

export interface LumaEvent {
  seq: number;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  object: { kind: string; name: string };
  source: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
}

export interface UsageRecord {
  lease: string;
  project: string;
  startedAt: string;
  endedAt: string;
  runtimeSeconds: number;
  cpuMillis: number;
  memoryBytes: number;
  cost: number;
  currency: string;
  reason: string;
  fromPool: boolean;
}

export interface UsageAnswer {
  leases: UsageRecord[];
}

export interface ManifestIssue {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

export interface ApplyAnswer {
  dryRun: boolean;
  results: Array<{
    kind: string;
    name: string;
    result: 'created' | 'configured' | 'unchanged';
    object?: import('../../../src/model/types.js').LumaObject;
    live?: import('../../../src/model/types.js').LumaObject | null;
  }>;
}

export type { MetricsSummary, PhaseTiming, ProjectMetrics } from '../../../src/metrics/project-summary.js';
