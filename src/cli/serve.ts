// `bellwether serve` / `npm start`: load the config, start the gateway, shut down gracefully.
import { ConfigError, loadConfigFile } from '../config/load.js';
import { startGateway, type RunningGateway } from '../server.js';
import { createLogger } from '../telemetry/logger.js';

export const DEFAULT_CONFIG = 'config/default.yaml';

export async function serve(configPath: string | undefined, portOverride?: number): Promise<RunningGateway> {
  const file = configPath ?? process.env.BELLWETHER_CONFIG ?? DEFAULT_CONFIG;
  let config;
  try {
    config = loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`bellwether: refusing to start, invalid configuration:\n${err.lines.join('\n')}\n`);
      process.exit(3);
    }
    throw err;
  }
  const envPort = process.env.PORT ? Number(process.env.PORT) : undefined;
  if (portOverride === undefined && envPort !== undefined && !(Number.isInteger(envPort) && envPort >= 0 && envPort <= 65535)) {
    process.stderr.write(`bellwether: refusing to start: PORT "${process.env.PORT}" is not a port number (0-65535)\n`);
    process.exit(3);
  }
  const port = portOverride ?? envPort ?? config.server.port;
  const logger = createLogger(config.logging.level);
  let gateway: RunningGateway;
  try {
    gateway = await startGateway({ config, port, logger });
  } catch (err) {
    // The usual start-up failures are the environment's, not bugs: say which, without a stack.
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'EADDRINUSE' ? 'is already in use' : code === 'EACCES' ? 'needs privileges this process lacks' : code === 'EADDRNOTAVAIL' ? 'is not available on this machine' : undefined;
    if (reason === undefined) throw err;
    process.stderr.write(`bellwether: cannot listen on ${config.server.host}:${port}: port ${port} ${reason} (choose another with PORT or --port)\n`);
    process.exit(1);
  }
  logger.info(
    { url: gateway.url, config: file, routes: Object.keys(config.routes), state: gateway.ctx.rollouts.health().backend },
    `bellwether listening on ${gateway.url}`,
  );
  // Log writes are buffered (telemetry/logger.ts); keep them timely for people tailing the output.
  logger.flush();
  setInterval(() => logger.flush(), 1000).unref();
  const exit = (code: number) => logger.flush(() => process.exit(code));

  if (gateway.generatedAdminToken !== undefined) {
    // Printed once, to the terminal rather than into structured logs that get shipped elsewhere.
    process.stderr.write(
      `bellwether: no admin token configured (auth.adminTokens or BELLWETHER_ADMIN_TOKEN); generated one for this process:\n` +
        `  export BELLWETHER_ADMIN_TOKEN=${gateway.generatedAdminToken}\n`,
    );
  }
  // SIGHUP reloads the config; an invalid file is rejected (and logged) and the old config keeps serving.
  process.on('SIGHUP', () => {
    gateway.reload('sighup').catch(() => undefined);
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.server.shutdownGraceMs }, 'shutting down: no new requests, finishing in-flight ones');
    // In-flight requests and streams get a bounded grace period, then we exit regardless. Still 0
    // (PRODUCT.md section 2, OPERATING.md): the shutdown went as configured; what it cut is a warning.
    const force = setTimeout(() => {
      void inflightRequests(gateway)
        .catch(() => undefined)
        .then((cut) => {
          logger.warn({ cut_requests: cut ?? null, graceMs: config.server.shutdownGraceMs }, `grace period over; exiting with ${cut ?? 'some'} request(s) still in flight`);
          exit(0);
        });
    }, config.server.shutdownGraceMs);
    force.unref();
    gateway
      .close()
      .then(() => {
        logger.info('shutdown complete');
        exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        exit(1);
      });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return gateway;
}

/** Inference requests and streams the gateway is still serving (the bellwether_inflight_requests gauge). */
async function inflightRequests(gateway: RunningGateway): Promise<number> {
  const { values } = await gateway.ctx.metrics.inflight.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}
