// `bellwether config check FILE`: validate a config and print `file:path: reason` lines.
import { ConfigError, loadConfigFile } from '../config/load.js';

export function configCheck(file: string): number {
  try {
    const config = loadConfigFile(file);
    const routes = Object.values(config.routes);
    process.stdout.write(
      `${file}: OK — ${Object.keys(config.providers).length} providers, ${Object.keys(config.models).length} models, ${routes.length} routes (${routes
        .map((r) => `${r.name}: ${r.champion}${r.challenger ? ` vs ${r.challenger} at ${r.rollout.percent}%` : ''}`)
        .join('; ')})\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.lines.join('\n')}\n`);
      return 1;
    }
    throw err;
  }
}
