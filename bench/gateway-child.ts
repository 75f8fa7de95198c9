// The gateway under test, in its own process, started exactly as `bellwether serve` would build it:
// the config file is loaded and validated by the product's loader, and the product's logger
// (createLogger: pino at the configured level, redaction, ISO timestamps) writes to stdout — which the
// bench redirects to a file, so the real cost of logging is measured. argv[2]: config file path.
// With `--cpu-prof` the bench asks it (over IPC) to CPU-profile single measurement windows;
// `npm run bench:sampling` asks it to reload its config file (sampling on or off).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadConfigFile } from '../src/config/load.js';
import { startGateway } from '../src/server.js';
import { createLogger } from '../src/telemetry/logger.js';
import { exitWithParent, isProfileMessage, isReloadMessage, sendReady, type ProfileReply, type ReloadReply } from './ipc.js';

const configPath = process.argv[2];
if (!configPath) throw new Error('usage: gateway-child <config.yaml>');
const config = loadConfigFile(configPath);
const logger = createLogger(config.logging.level);
const gateway = await startGateway({ config, port: 0, host: '127.0.0.1', logger });
exitWithParent(async () => {
  await gateway.close();
  logger.flush();
});

let session: Session | undefined;
process.on('message', (message: unknown) => {
  if (isReloadMessage(message)) {
    const reply = (r: ReloadReply): void => void process.send?.(r);
    gateway.reload('bench').then(
      (outcome) => reply(outcome.restartRequired.length > 0 ? { type: 'reloaded', error: `needs a restart: ${outcome.restartRequired.join(', ')}` } : { type: 'reloaded' }),
      (err: unknown) => reply({ type: 'reloaded', error: String(err) }),
    );
    return;
  }
  if (!isProfileMessage(message)) return;
  const reply = (r: ProfileReply): void => void process.send?.(r);
  const run = async (): Promise<ProfileReply> => {
    if (message.type === 'profile-start') {
      session ??= new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 250 });
      await session.post('Profiler.start');
      return { type: 'profile-started' };
    }
    if (!session || !message.file) return { type: 'profile-written', error: 'profiler not started' };
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(message.file, JSON.stringify(profile));
    return { type: 'profile-written', file: message.file };
  };
  run().then(reply, (err: unknown) => reply({ type: message.type === 'profile-start' ? 'profile-started' : 'profile-written', error: String(err) }));
});
sendReady({ gateway: gateway.url });
