import net from 'node:net';

// Small helpers every benchmark script needs: its numeric flags, percentiles of what it
// timed, and a free loopback port for what it starts.

/** A positive whole-number flag (`--name N`), or the fallback when absent. */
export function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name}: expected a positive whole number, got "${process.argv[index + 1]}"`);
  return value;
}

/** The nearest-rank percentile p (0–100) of the values; NaN for none. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? NaN;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
