/**
 * CPU time of particular threads, from /proc (Linux; elsewhere null). Node has no API for thread
 * ids and names every thread "node", so each inference thread reports its own id and the ids of
 * the threads its session started; their CPU against the whole process's tells an operator
 * whether the model or everything around it (decoding, HTTP) is using the cores.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** This thread's kernel id, or null where /proc/thread-self does not exist. */
export function currentThreadId(): number | null {
  try {
    const id = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(id) ? id : null;
  } catch {
    return null;
  }
}

/** Kernel ids of every thread in this process; empty where /proc is not available. */
export function processThreadIds(): number[] {
  try {
    return readdirSync('/proc/self/task').map(Number).filter(Number.isInteger);
  } catch {
    return [];
  }
}

/** Clock ticks per second of /proc's CPU times: 100 on every Linux build Node runs on. */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds of these threads of this process; threads that ended count 0; null without /proc. */
export function threadsCpuSeconds(threadIds: number[]): number | null {
  if (threadIds.length === 0) return null;
  let ticks = 0;
  for (const id of threadIds) {
    try {
      const stat = readFileSync(`/proc/self/task/${id}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may hold spaces.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The thread has ended.
    }
  }
  return ticks / TICKS_PER_SECOND;
}
