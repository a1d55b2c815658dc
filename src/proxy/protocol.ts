import type { OutcomeCounts } from './revision-outcomes.js';
import type { DeployRequest, GlobalOption, HostMove, ServiceInfo } from './management.js';

// The messages of the proxy's management socket: one JSON object per line. Clients send
// requests with an id and get one reply per id; a client that subscribes also receives
// events (the proxy asking its controller to wake a service). Shared by server and
// client so both sides agree by construction.

export type ManagementRequest =
  | { id: number; type: 'deploy'; request: DeployRequest; moves?: HostMove[] }
  | { id: number; type: 'remove'; service: string }
  | { id: number; type: 'get-service'; service: string }
  | { id: number; type: 'list-services' }
  | { id: number; type: 'set-global-option'; option: GlobalOption; value: string }
  | { id: number; type: 'subscribe' }
  | { id: number; type: 'preconnect'; target: string }
  | { id: number; type: 'revision-outcomes' };

export type ManagementRequestType = ManagementRequest['type'];

export interface ReplyResults {
  deploy: null;
  remove: null;
  'get-service': ServiceInfo | null;
  'list-services': ServiceInfo[];
  'set-global-option': null;
  subscribe: null;
  preconnect: null;
  'revision-outcomes': Record<string, OutcomeCounts>;
}

export type ManagementReply =
  | { id: number; ok: true; result: ReplyResults[ManagementRequestType] }
  | { id: number; ok: false; error: { code: string; message: string } };

/** `wake`: start the service; `certificate`: a certificate of the service changed state. */
export type ManagementEvent =
  { event: 'wake'; service: string; requestId?: string } | { event: 'certificate'; service: string };

export type ServerMessage = ManagementReply | ManagementEvent;

/** Bounds one message, so a client cannot make the daemon buffer without limit. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export class LineDecoder {
  private buffer = '';

  /** Returns the complete lines in the chunk; throws when one grows past the limit. */
  push(chunk: string): string[] {
    this.buffer += chunk;
    const lines = this.buffer.split('\n');
    this.buffer = lines.pop() ?? '';
    if (this.buffer.length > MAX_MESSAGE_BYTES)
      throw new Error(`a management message exceeded ${MAX_MESSAGE_BYTES} bytes`);
    return lines.filter((line) => line.trim().length > 0);
  }
}

export function encode(message: ManagementRequest | ServerMessage): string {
  return JSON.stringify(message) + '\n';
}
