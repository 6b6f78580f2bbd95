#!/usr/bin/env node
/**
 * The `modelgate` command. Each subcommand is a composition root: it reads flags and the
 * environment, builds what it needs and runs. Exit codes: 0 ok, 1 failure, 2 usage error.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeError, isGatewayError } from './errors.js';
import { runCommand, UsageError } from './cli/commands.js';

export async function main(argv: string[]): Promise<number> {
  try {
    return await runCommand(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`modelgate: ${err.message}\nRun 'modelgate --help' for usage.\n`);
      return 2;
    }
    const code = isGatewayError(err) ? ` [${err.code}]` : '';
    process.stderr.write(`modelgate: error${code}: ${describeError(err)}\n`);
    if (process.env.MODELGATE_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

const invokedDirectly = (() => {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();

if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      // serve keeps running; other commands end here.
      if (code !== -1) process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`modelgate: ${describeError(err)}\n`);
      process.exitCode = 1;
    },
  );
}
