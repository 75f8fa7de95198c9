// The `bellwether` command: parse arguments, dispatch. Each verb lives in its own module.
import { Command, InvalidArgumentError } from 'commander';
import { serve } from './serve.js';
import { configCheck } from './config-check.js';
import { rolloutCommand } from './rollout.js';
import { datasetCommand } from './dataset.js';
import { evalCommand } from './eval.js';

export function buildProgram(): Command {
  const program = new Command('bellwether').description('Traffic-splitting LLM gateway for measured, reversible model switches').showHelpAfterError();

  program
    .command('serve')
    .description('run the gateway')
    .option('-c, --config <file>', 'config file (default: $BELLWETHER_CONFIG or config/default.yaml)')
    .option('-p, --port <port>', 'port to listen on (default: $PORT or server.port)', parsePort)
    .action(async (opts: { config?: string; port?: number }) => {
      await serve(opts.config, opts.port);
    });

  program
    .command('config')
    .description('configuration tools')
    .command('check')
    .argument('<file>', 'config file to validate')
    .description('validate a config file; prints file:path: reason lines and exits non-zero when invalid')
    .action((file: string) => {
      process.exitCode = configCheck(file);
    });

  program.addCommand(rolloutCommand());
  program.addCommand(datasetCommand());
  program.addCommand(evalCommand());

  return program;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be an integer 0-65535');
  return port;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
