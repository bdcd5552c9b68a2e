// CPU time a process or one of its threads has used, from Linux's /proc/.../stat: CPU time, not
// wall time, so it holds when the machine is loaded (a CPU profile's samples do not).
import { readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc times are in 1/100 s. */
const CLOCK_TICKS = 100;

/** { user, system } ms from a stat file (`/proc/<pid>/stat`, `/proc/self/task/<tid>/stat`); null when unreadable (not Linux, gone). */
export function procCpuMs(statPath) {
  let stat;
  try {
    stat = readFileSync(statPath, 'utf8');
  } catch {
    return null;
  }
  // The name (field 2) may hold spaces or ')': count from after its last ')'. utime and stime,
  // fields 14 and 15, are then the 12th and 13th.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(f[11]) * 1000) / CLOCK_TICKS, system: (Number(f[12]) * 1000) / CLOCK_TICKS };
}
