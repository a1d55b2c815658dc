import { spawn, type ChildProcess } from 'node:child_process';

// The processes a benchmark starts, each in its own process group so that stopping it
// also stops what it forked (nginx's worker). Everything is stopped on the way out,
// whether the run finished, threw, or was interrupted; only these groups are signalled.

const OUTPUT_KEEP_CHARS = 64 * 1024;
const STOP_GRACE_MS = 3_000;

export interface SpawnOptions {
  /** Run pinned to this CPU list (taskset -c), or unpinned when undefined. */
  cpus?: string | undefined;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export class BenchProcess {
  private output = '';
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const collect = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-OUTPUT_KEEP_CHARS);
      for (const waiter of this.waiters) waiter();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? null : 0);
        for (const waiter of this.waiters) waiter();
        resolve(this.exitCode);
      });
      child.once('error', (error) => {
        this.output += `\n${error.message}`;
        this.exitCode = null;
        for (const waiter of this.waiters) waiter();
        resolve(null);
      });
    });
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** What it printed (stdout and stderr, the last 64 KiB). */
  get log(): string {
    return this.output;
  }

  /** Resolves with the first match of pattern in the output; rejects if it exits or times out first. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(this.output);
        if (match) {
          done();
          resolve(match);
        } else if (!this.running) {
          done();
          reject(
            new Error(
              `${this.name} exited (code ${String(this.exitCode)}) before printing ${String(pattern)}:\n${this.output.trim()}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(`${this.name} did not print ${String(pattern)} within ${timeoutMs} ms:\n${this.output.trim()}`),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }
}

export class ProcessGroup {
  private readonly processes: BenchProcess[] = [];
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: stopping the benchmark's processes\n`);
    void this.stopAll().finally(() => process.exit(130));
  };
  private readonly onExit = (): void => this.killAllNow();

  constructor() {
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    process.once('SIGHUP', this.onSignal);
    // Last resort (an uncaught error ending the process): no time left for a grace period.
    process.once('exit', this.onExit);
  }

  start(name: string, command: string, args: string[], options: SpawnOptions = {}): BenchProcess {
    const [file, argv] =
      options.cpus !== undefined ? ['taskset', ['-c', options.cpus, command, ...args]] : [command, args];
    // taskset execs the command, so the pid (and process group) is the command's own.
    const child = spawn(file, argv, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const started = new BenchProcess(name, child);
    this.processes.push(started);
    return started;
  }

  /** Runs a command to completion and returns what it printed; throws if it fails. */
  async run(
    name: string,
    command: string,
    args: string[],
    options: SpawnOptions & { timeoutMs?: number } = {},
  ): Promise<string> {
    const started = this.start(name, command, args, options);
    const timeoutMs = options.timeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const code = await Promise.race([started.exited, timedOut]);
    clearTimeout(timer);
    if (code === 'timeout') {
      await this.stop(started);
      throw new Error(`${name} did not finish within ${timeoutMs} ms:\n${started.log.trim()}`);
    }
    this.forget(started);
    if (code !== 0) throw new Error(`${name} failed (exit code ${String(code)}):\n${started.log.trim()}`);
    return started.log;
  }

  /** SIGTERM to the process group, SIGKILL after a grace period. */
  async stop(target: BenchProcess): Promise<void> {
    if (target.running && target.child.pid !== undefined) {
      signalGroup(target.child.pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), STOP_GRACE_MS);
      });
      const outcome = await Promise.race([target.exited, graceOver]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        signalGroup(target.child.pid, 'SIGKILL');
        await target.exited;
      }
    }
    // Children of a group leader that exited (an nginx worker) are still in the group.
    if (target.child.pid !== undefined) signalGroup(target.child.pid, 'SIGKILL');
    this.forget(target);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.processes].reverse().map((started) => this.stop(started)));
  }

  /** Removes the handlers once everything is stopped. */
  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    process.off('SIGHUP', this.onSignal);
    process.off('exit', this.onExit);
  }

  private killAllNow(): void {
    for (const started of this.processes)
      if (started.child.pid !== undefined) signalGroup(started.child.pid, 'SIGKILL');
  }

  private forget(target: BenchProcess): void {
    const index = this.processes.indexOf(target);
    if (index >= 0) this.processes.splice(index, 1);
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
