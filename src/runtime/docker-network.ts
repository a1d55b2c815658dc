import type Docker from 'dockerode';
import { dockerStatusCode } from './errors.js';
import { errorMessage } from '../util/error-message.js';
import { LABELS } from './labels.js';

// The bridge network every container of one Luma installation joins. Docker's default
// bridge lets any container open a connection to any other; on this one inter-container
// traffic is off (`enable_icc=false`), so apps reach each other only through the proxy,
// which reaches them on their ports published on 127.0.0.1. One network per installation,
// not per project: Docker's default address pools hold about 30 networks, and one /16
// bridge holds tens of thousands of containers.

/** The bridge driver's option that turns inter-container traffic off (iptables DROP between its ports). */
export const ICC_OPTION = 'com.docker.network.bridge.enable_icc';

export function networkName(instance: string): string {
  return `luma-${instance.replace(/[^a-zA-Z0-9_.-]/g, '-')}`;
}

/** The network exists but lets containers talk to each other: using it would void the isolation. */
export class UnsafeNetworkError extends Error {
  readonly code = 'UnsafeNetwork';
  constructor(name: string) {
    super(
      `the Docker network "${name}" exists but allows traffic between containers (${ICC_OPTION} is not "false"); ` +
        `remove it (docker network rm ${name}) and Luma creates it again with the isolation on`,
    );
    this.name = 'UnsafeNetworkError';
  }
}

type EngineCall = <T>(operation: () => Promise<T>) => Promise<T>;

/**
 * Makes sure the installation's network exists and isolates its containers, and returns
 * its id. Idempotent and safe when several processes race here: Docker 20.10 lets two
 * creates of one name both succeed (CheckDuplicate is checked before either is stored),
 * and a start then fails on the ambiguous name. So a creator looks again, and when an
 * older network of the name exists it removes its own, unused as yet, and takes that one:
 * every racer ends on the oldest.
 */
export async function ensureIsolatedNetwork(docker: Docker, instance: string, call: EngineCall): Promise<string> {
  const name = networkName(instance);
  const existing = (await networksNamed(docker, name, call))[0];
  const kept = existing ?? (await createOrJoin(docker, instance, call));
  if (kept.Options?.[ICC_OPTION] !== 'false') throw new UnsafeNetworkError(name);
  return kept.Id;
}

async function createOrJoin(docker: Docker, instance: string, call: EngineCall): Promise<Docker.NetworkInspectInfo> {
  const name = networkName(instance);
  let mine: string | undefined;
  try {
    const created = await call(() =>
      docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        Options: { [ICC_OPTION]: 'false' },
        Labels: { [LABELS.managed]: 'true', [LABELS.instance]: instance },
      }),
    );
    mine = created.id;
  } catch (error) {
    // 409: another process made it first, which is what we wanted.
    if (dockerStatusCode(error) !== 409) throw error;
  }
  const oldest = (await networksNamed(docker, name, call))[0];
  if (!oldest) throw new Error(`the Docker network "${name}" was created but cannot be found`);
  if (mine !== undefined && oldest.Id !== mine)
    await call(() => docker.getNetwork(mine).remove()).catch(() => undefined);
  return oldest;
}

/** Networks of exactly this name (Docker's name filter matches substrings), the oldest first. */
async function networksNamed(docker: Docker, name: string, call: EngineCall): Promise<Docker.NetworkInspectInfo[]> {
  const listed = await call(() => docker.listNetworks({ filters: { name: [name] } }));
  return listed
    .filter((network) => network.Name === name)
    .sort((a, b) => Date.parse(a.Created) - Date.parse(b.Created) || (a.Id < b.Id ? -1 : 1));
}

/** Docker's answer when a container names a network that no longer exists (removed by hand, or by a test's cleanup). */
export function isMissingNetworkError(error: unknown): boolean {
  return dockerStatusCode(error) === 404 && /network .*not found/i.test(errorMessage(error));
}
