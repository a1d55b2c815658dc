import { readdirSync, readFileSync } from 'node:fs';
import { lowerProcessPriority } from '../../../src/util/thread-priority.js';

// Lowers its whole process and says the nice value of each of its threads, read from /proc
// (field 19 of a thread's stat), V8's and libuv's helper threads included.
const lowered = lowerProcessPriority(7);
const nices = readdirSync('/proc/self/task').map((tid) => {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
});
process.send?.({ lowered, nices }, () => process.exit(0));
