import { MemoryEventLog } from '../../../src/events/event-log.js';
import { eventLogCases } from './event-log.cases.js';

// The event log of one process (the embedded default): the shared suite, in memory.
eventLogCases('MemoryEventLog', { open: async (options) => new MemoryEventLog(options) });
