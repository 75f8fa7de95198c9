// Node flags the gateway runs with, wherever it runs: `npm start`, the Docker image, the Kubernetes
// Deployment and the bench all start it with exactly these (test/deploy/manifests.test.ts keeps them
// in step).
//
// Why a larger young generation: every request leaves ~35 KB of short-lived garbage (bodies, answer
// text, headers, the log line). With V8's default semi-space a scavenge ran every ~0.7 s at 500 req/s,
// each pausing the event loop ~2 ms for the requests in flight — enough on its own to set the p99.
// At 32 MB per semi-space scavenges are ~4× rarer and no longer than before (their cost follows the
// live objects, not the space); p99 at 500 req/s fell from 6.4–8.5 ms to 4.7–6.3 ms in side-by-side
// runs. The price is memory: under sustained load the young generation fills out, and the bench's
// gateway sat at ~175–225 MB RSS after its load phases instead of ~125 MB (bounded: 3 × 32 MB).
//
// Why no memory reducer: when a busy process goes quiet for a few seconds, V8's memory reducer runs
// full GCs to hand memory back, and those GCs do not keep alive the maps (object shapes) that only
// optimised code still points at. Between requests nothing holds a request's objects, so their maps
// die, and every optimised function that depended on one is thrown away at once: `--trace-deopt`
// showed ~146 functions, the whole request path among them ("reason: weak objects"), after one such
// GC in a lull of `npm run bench`. Each is optimised again only after hundreds of calls, which at a
// modest request rate takes tens of seconds — so a gateway that was idle a moment serves its next
// thousands of requests on slow code. In the bench, the stream phase after that lull cost 2.3–3.6k µs
// CPU per stream from run to run (pass-through ~2.5k) and its TTFB gap to the pass-through swung
// from −0.8 to +2.1 ms between rounds; without the reducer there were no such deopts, and in five
// runs the gap was +0.36 … +0.85 ms (before: +0.50 … +1.36, one run in three over the +1 ms target).
// The price: after a burst the heap keeps its size until the next ordinary GC instead of shrinking
// while idle (bench: RSS ~15–20 MB higher after the load phases).
export const GATEWAY_NODE_FLAGS = ['--max-semi-space-size=32', '--no-memory-reducer'] as const;
