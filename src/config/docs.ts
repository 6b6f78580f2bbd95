/**
 * docs/configuration.md, written from the option table (tools/gen-docs.ts writes it; a test
 * fails when the committed file differs, so the docs cannot drift from the code).
 */
import { GROUP_TITLES, type OptionGroup, OTHER_ENV, SERVE_OPTIONS } from './options.js';

const cell = (s: string) => s.replaceAll('|', '\\|');

function defaultOf(o: (typeof SERVE_OPTIONS)[number]): string {
  if ('defaultDoc' in o) return o.defaultDoc;
  if (!('default' in o)) return '—';
  const d: unknown = o.default;
  if (Array.isArray(d)) return d.length === 0 ? '—' : d.join(',');
  return `\`${String(d)}\``;
}

export function configurationMarkdown(): string {
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated from src/config/options.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'Every option of `modelgate serve` is a flag and an environment variable (a few only one of the',
    'two). Layers win in this order: flags, then token files, then the environment, then the',
    'routes file (`--routes`). Library callers pass the same options, by key, to',
    '`resolveServeConfig()` or `startServer()`. Durations are seconds (`10` or `10s`); sizes are bytes.',
    '',
  ];
  const groups = new Map<OptionGroup, (typeof SERVE_OPTIONS)[number][]>();
  for (const o of SERVE_OPTIONS) groups.set(o.group, [...(groups.get(o.group) ?? []), o]);
  for (const [group, options] of groups) {
    lines.push(`## ${GROUP_TITLES[group]}`, '', '| flag | environment | key | default | meaning |', '| --- | --- | --- | --- | --- |');
    for (const o of options) {
      const flag = 'flag' in o ? `${'short' in o ? `\`-${o.short}\`, ` : ''}\`--${o.flag}\`` : '—';
      const env = 'env' in o ? `\`${o.env}\`` : '—';
      lines.push(`| ${flag} | ${env} | \`${o.key}\` | ${cell(defaultOf(o))} | ${cell(o.doc)} |`);
    }
    lines.push('');
  }
  lines.push('## Other environment variables', '', '| variable | meaning |', '| --- | --- |');
  for (const v of OTHER_ENV) lines.push(`| \`${v.env}\` | ${cell(v.doc)} |`);
  lines.push('');
  return lines.join('\n');
}
