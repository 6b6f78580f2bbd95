/**
 * The documentation holds together: the README stays short (the reference lives in docs/), and
 * every relative link between the README, docs/, ARCHITECTURE.md and CONTRIBUTING.md reaches a
 * file that exists and, with a #fragment, a heading in it (as GitHub derives heading anchors).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const DOCS = ['README.md', 'ARCHITECTURE.md', 'CONTRIBUTING.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
  f.endsWith('.md'),
);

/** Text outside fenced code blocks, where links and headings are. */
const prose = (path: string) => readFileSync(join(ROOT, path), 'utf8').replace(/^```[^\n]*\n[\s\S]*?^```/gm, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, '')
    .replace(/ /g, '-');

const anchorsOf = (path: string) => new Set([...prose(path).matchAll(/^#+ (.*)$/gm)].map((m) => anchor(m[1])));

describe('documentation', () => {
  it('README.md is at most 10 KB', () => {
    expect(readFileSync(join(ROOT, 'README.md')).length).toBeLessThanOrEqual(10 * 1024);
  });

  it.each(DOCS)('%s: every relative link reaches a file and heading that exist', (doc) => {
    const broken: string[] = [];
    for (const [, link] of prose(doc).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(link)) continue;
      const [path, fragment] = link.split('#');
      const target = path === '' ? doc : normalize(join(dirname(doc), path));
      if (!existsSync(join(ROOT, target))) broken.push(`${link} (no ${relative('.', target)})`);
      else if (fragment !== undefined && target.endsWith('.md') && !anchorsOf(target).has(fragment))
        broken.push(`${link} (no such heading)`);
    }
    expect(broken).toEqual([]);
  });
});
