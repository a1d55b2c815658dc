import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

// CPU time (user + system, all threads) used by a process group, from /proc: the
// processes a benchmark started each lead their own group, so this covers nginx's
// worker as well as its master. CPU time per request is steadier than requests/s on a
// shared machine: other tenants slow a run down without adding to its CPU time much.

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Milliseconds of CPU used so far by the live processes of group pgid; undefined without /proc. */
export function groupCpuMs(pgid: number): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  let ticks = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12).
    if (Number(fields[2]) !== pgid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / clockTicks();
}

/**
 * Milliseconds of CPU used by every process on the machine (user, nice, system), plus the
 * time the hypervisor gave our virtual CPUs to someone else (steal), which no process owns.
 */
export function machineCpuMs(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/) ?? [];
    // cpu user nice system idle iowait irq softirq steal ...
    return ((Number(fields[1]) + Number(fields[2]) + Number(fields[3]) + Number(fields[8] ?? 0)) * 1000) / clockTicks();
  } catch {
    return undefined;
  }
}

/** Milliseconds of CPU used by this process and its children that have exited (wrk runs). */
export function selfAndReapedCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime(11) stime(12) cutime(13) cstime(14)
    return ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / clockTicks();
  } catch {
    return undefined;
  }
}
