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
export const GATEWAY_NODE_FLAGS = ['--max-semi-space-size=32'] as const;
