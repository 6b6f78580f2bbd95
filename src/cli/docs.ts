/** docs/cli.md, written from the command specs (the same text `--help` prints). */
import { helpText } from './spec.js';
import * as specs from './specs.js';

const ORDER = [
  specs.SERVE,
  specs.PREDICT,
  specs.DEMO,
  specs.REGISTER,
  specs.LIST,
  specs.VERSIONS,
  specs.SHOW,
  specs.DELETE,
  specs.ALIAS_SET,
  specs.ALIAS_DELETE,
  specs.BUILD_IMAGE,
  specs.GENERATE_DOCKERFILE,
];

export function cliMarkdown(): string {
  const lines = [
    '# Command line',
    '',
    '<!-- Generated from src/cli/specs.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'Every command answers `--help` with the text below. Exit status: 0 success, 1 failure (the',
    'message names the error code), 2 a usage error (one line naming the flag as it was typed).',
    'Output piped into a reader that closes early ends quietly.',
    '',
  ];
  for (const spec of ORDER) lines.push(`## modelgate ${spec.name}`, '', '```text', helpText(spec).trimEnd(), '```', '');
  return lines.join('\n');
}
