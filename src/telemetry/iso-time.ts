// Timestamps for lines written thousands of times a second (log lines, dataset records).

/**
 * `new Date().toISOString()`, formatted once per millisecond: at gateway rates several lines share
 * each one, and formatting was ~1 % of a request's CPU (bench profile). One clock per writer.
 */
export function isoClock(): () => string {
  let lastMs = -1;
  let last = '';
  return () => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      last = new Date(now).toISOString();
    }
    return last;
  };
}
