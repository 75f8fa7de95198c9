/**
 * A real, throw-away redis-server for tests: loopback only, no persistence, on a free port.
 * `kill()` + `restart()` simulate an outage and recovery on the SAME port, so clients configured
 * with the URL reconnect on their own, as they would in production.
 *
 * There is deliberately no skip when redis-server is missing: the suites that need it would
 * silently stop testing shared state. Install it (`apt-get install redis-server`) or point
 * REDIS_SERVER_BIN at a binary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

export interface RedisServer {
  url: string;
  port: number;
  /** Graceful shutdown (SIGTERM); resolves once the process has exited. */
  stop(): Promise<void>;
  /** Abrupt death (SIGKILL), as in a crash or OOM kill. */
  kill(): Promise<void>;
  /** Starts again on the same port (after stop/kill, or stops first if still running). */
  restart(): Promise<void>;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 5;
const running = new Set<ChildProcess>();

// A crashed test must not leave redis-servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startRedis(): Promise<RedisServer> {
  const bin = redisServerBinary();
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = await freePort();
    try {
      let child = await launch(bin, port);
      const server: RedisServer = {
        url: `redis://${HOST}:${port}`,
        port,
        stop: () => terminate(child, 'SIGTERM'),
        kill: () => terminate(child, 'SIGKILL'),
        restart: async () => {
          await terminate(child, 'SIGTERM');
          child = await launch(bin, port);
        },
      };
      return server;
    } catch (err) {
      // Another process may have taken the port between probing and binding: try another.
      lastError = err as Error;
      if (!/Address already in use/i.test(lastError.message)) throw lastError;
    }
  }
  throw lastError ?? new Error('could not start redis-server');
}

function redisServerBinary(): string {
  const candidates = [process.env.REDIS_SERVER_BIN, '/usr/bin/redis-server', '/usr/local/bin/redis-server'];
  const bin = candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(c));
  if (bin === undefined) {
    throw new Error(
      'redis-server not found (looked at $REDIS_SERVER_BIN, /usr/bin/redis-server, /usr/local/bin/redis-server). ' +
        'These tests need a real Redis: apt-get install redis-server',
    );
  }
  return bin;
}

async function launch(bin: string, port: number): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  // Output is kept (bounded) for the start-up error message; the listeners stay attached so a
  // chatty server never blocks on a full pipe.
  let output = '';
  const collect = (chunk: Buffer): void => {
    if (output.length < 8192) output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.once('exit', () => running.delete(child));

  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`redis-server on port ${port} exited early (code ${code}, signal ${signal}):\n${output}`)),
    );
  });
  exited.catch(() => {}); // only observed while waiting for readiness
  try {
    await Promise.race([waitForPong(port), exited]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return child;
}

async function waitForPong(port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (await ping(port)) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** One raw RESP round trip, so readiness does not depend on a client library's retry logic. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}
