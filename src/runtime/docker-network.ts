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
 * and a start then fails on the ambiguous name (the engine stores a container's network
 * by name, even when it was created with the id). So every racer takes the oldest network
 * of the name, removes the younger ones (unused as yet: the engine refuses to remove one
 * in use), and waits until the name is unambiguous before any container is made on it.
 */
export async function ensureIsolatedNetwork(docker: Docker, instance: string, call: EngineCall): Promise<string> {
  const name = networkName(instance);
  const named = await networksNamed(docker, name, call);
  const kept = named[0] ?? (await createOrJoin(docker, instance, call));
  if (named.length > 1) await keepOnlyOldest(docker, name, call);
  if (kept.Options?.[ICC_OPTION] !== 'false') throw new UnsafeNetworkError(name);
  return kept.Id;
}

async function createOrJoin(docker: Docker, instance: string, call: EngineCall): Promise<Docker.NetworkInspectInfo> {
  const name = networkName(instance);
  try {
    await call(() =>
      docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        Options: { [ICC_OPTION]: 'false' },
        Labels: { [LABELS.managed]: 'true', [LABELS.instance]: instance },
      }),
    );
  } catch (error) {
    // 409: another process made it first, which is what we wanted.
    if (dockerStatusCode(error) !== 409) throw error;
  }
  const oldest = (await networksNamed(docker, name, call))[0];
  if (!oldest) throw new Error(`the Docker network "${name}" was created but cannot be found`);
  await keepOnlyOldest(docker, name, call);
  return oldest;
}

const UNAMBIGUOUS_WAIT_MS = 5_000;
const UNAMBIGUOUS_POLL_MS = 50;

/**
 * Removes the younger networks of the name (another racer's, or this one's own) and waits,
 * bounded, until one is left: a racer still between its create and its own removal holds
 * one the engine refuses to remove for a moment. Past the bound the start that follows
 * reports the ambiguity.
 */
async function keepOnlyOldest(docker: Docker, name: string, call: EngineCall): Promise<void> {
  const deadline = Date.now() + UNAMBIGUOUS_WAIT_MS;
  for (;;) {
    const younger = (await networksNamed(docker, name, call)).slice(1);
    if (younger.length === 0 || Date.now() > deadline) return;
    for (const network of younger) await call(() => docker.getNetwork(network.Id).remove()).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, UNAMBIGUOUS_POLL_MS));
  }
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
