/**
 * Polls `check` every `intervalMs` until it holds and returns how many milliseconds that
 * took; throws once `timeoutMs` have passed. For conditions other processes or databases
 * make true (a watch event, a lease taken over), which no promise announces.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  intervalMs = 20,
): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return Date.now() - started;
}
