// The sampling worker is background work: when the machine is short of CPU, requests come first.
// Linux keeps a nice value per thread (setpriority(2) on a thread id changes only that thread), so the
// worker lowers its own priority and the scheduler prefers the request thread; on an idle core the
// worker runs as fast as before. It does not make the worker's CPU free: on the 2-core bench box a
// spinning thread beside the gateway cut its throughput by ~40 % at nice 0 and still ~30 % at nice 19
// (caches, wake-ups), so what sampling costs is mostly what it computes.
//
// If the worker cannot keep up for long, its bounded queue fills and new samples are dropped and
// counted (`bellwether_samples_total{result="dropped"}`) — never queued without bound or paid for by
// requests.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Nice 10: a tenth of a nice-0 thread's share of a contended core, still far from starving. */
export const BACKGROUND_NICE = 10;

/** Lowers the calling thread's priority; false where the platform offers no per-thread priority. */
export function lowerThisThreadPriority(nice = BACKGROUND_NICE): boolean {
  let tid: number;
  try {
    // "<pid>/task/<tid>" (Linux ≥ 3.17).
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return false;
  }
  if (!Number.isInteger(tid) || tid <= 0) return false;
  try {
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
