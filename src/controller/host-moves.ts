import type { DeployRequest, HostMove, ServiceInfo } from '../proxy/management.js';
import { normalizeHost } from '../proxy/route-table.js';

// Which other services must give up (and take) hosts in the same step as a deploy, so
// that names moving between services converge: a swap, a rotation A→B→C→A, a move among
// three. The proxy refuses a host another service holds; the controller knows when that
// service's desired state no longer declares it, and then moves both at once.

/**
 * The hosts the controller's desired state declares for a proxy service, or undefined
 * when the service is not one of the controller's own (deployed by hand): such a service
 * keeps what it holds, and a deploy that wants one of its hosts is refused.
 */
export type DeclaredHosts = (service: string) => readonly string[] | undefined;

function normalized(hosts: readonly string[]): string[] {
  return [...new Set(hosts.map((host) => normalizeHost(host) ?? host))];
}

/**
 * The moves that let `request` take its hosts: every holder of a wanted host whose own
 * declaration has let go of it is re-hosted to what it declares, and so on for the hosts
 * those holders take in turn. Empty when no holder has let go (a real conflict, which the
 * proxy's refusal reports). Each service is visited once, so this ends.
 */
export function planHostMoves(
  request: DeployRequest,
  routed: readonly ServiceInfo[],
  declared: DeclaredHosts,
): HostMove[] {
  const holders = new Map<string, string>();
  for (const info of routed) for (const host of info.hosts) holders.set(host, info.service);
  const planned = new Map<string, string[]>([[request.service, normalized(request.hosts)]]);
  const pending = [request.service];
  for (let service = pending.shift(); service !== undefined; service = pending.shift()) {
    for (const host of planned.get(service) ?? []) {
      const holder = holders.get(host);
      if (holder === undefined || planned.has(holder)) continue;
      const wanted = declared(holder);
      if (wanted === undefined) continue;
      const hosts = normalized(wanted);
      if (hosts.includes(host)) continue;
      planned.set(holder, hosts);
      pending.push(holder);
    }
  }
  return withoutClaimsOfOthers(request.service, planned, holders);
}

/**
 * A moved service keeps only the declared hosts it can have in this step: not one held
 * by a service outside the move, nor one an earlier entry (the deploy first) claims. What
 * it drops is taken by its own reconcile later, or reported there as a conflict.
 */
function withoutClaimsOfOthers(
  requester: string,
  planned: Map<string, string[]>,
  holders: Map<string, string>,
): HostMove[] {
  const claimed = new Set(planned.get(requester));
  const moves: HostMove[] = [];
  for (const [service, hosts] of planned) {
    if (service === requester) continue;
    const kept = hosts.filter((host) => {
      const holder = holders.get(host);
      return !claimed.has(host) && (holder === undefined || planned.has(holder));
    });
    for (const host of kept) claimed.add(host);
    moves.push({ service, hosts: kept });
  }
  return moves;
}
