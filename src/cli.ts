#!/usr/bin/env node
/**
 * The `modelgate` command. Each subcommand is a composition root: it reads flags and the
 * environment, builds what it needs and runs. Exit codes: 0 ok, 1 failure, 2 usage error.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { environment } from './config/index.js';
import { ConfigError, describeError, isGatewayError } from './errors.js';
import { runCommand, UsageError } from './cli/commands.js';

/** Output piped into a reader that went away (`modelgate registry list | head -1`) ends quietly. */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe(process.stdout);
  quietOnClosedPipe(process.stderr);
  try {
    return await runCommand(argv);
  } catch (err) {
    // Usage errors (a flag, a missing argument, a setting out of range): one line, exit 2.
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`modelgate: ${err.message}\n`);
      return 2;
    }
    const code = isGatewayError(err) ? ` [${err.code}]` : '';
    process.stderr.write(`modelgate: error${code}: ${describeError(err)}\n`);
    if (environment().MODELGATE_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
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
