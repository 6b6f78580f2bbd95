/**
 * The Dockerfile renderer against the real Dockerfile.template: what every image gets, how values
 * are quoted, and what is refused. No daemon.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  APP_DIR,
  DEFAULT_BASE_IMAGE,
  type DockerfileOptions,
  generateDockerfile,
  healthcheckCommand,
  imageEnv,
  quote,
  readDockerfileTemplate,
  renderTemplate,
} from '../../src/docker/dockerfile.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const template = await readFile(join(ROOT, 'Dockerfile.template'), 'utf8');

const base: DockerfileOptions = {
  template,
  baseImage: 'node:20-bookworm-slim',
  platform: 'linux/amd64',
  modelUri: 'models:/iris@champion',
  modelRef: 'models:/iris/3',
  labels: { 'org.opencontainers.image.title': 'iris', 'io.modelgate.model.version': '3' },
};

/** Instructions (continuation lines joined), comments dropped: what a builder executes. */
function instructions(dockerfile: string): string[] {
  return dockerfile
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

/**
 * Parses the `KEY="value" …` pairs of an ENV or LABEL line the way the Dockerfile parser does
 * (backslash escapes inside double quotes), so quoting is checked against the grammar, not our own output.
 */
function parsePairs(rest: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([^\s=]+)="((?:[^"\\]|\\.)*)"/g;
  let m: RegExpExecArray | null;
  let consumed = '';
  while ((m = re.exec(rest)) !== null) {
    out[m[1]] = m[2].replace(/\\(.)/g, '$1');
    consumed += m[0];
  }
  expect(rest.replace(/\s+/g, '')).toBe(consumed.replace(/\s+/g, ''));
  return out;
}

describe('generateDockerfile', () => {
  const text = generateDockerfile(base);
  const lines = instructions(text);
  const find = (kw: string) => lines.filter((l) => l.startsWith(`${kw} `));

  it('renders every placeholder of the template', async () => {
    expect(text).not.toMatch(/\{\{|\}\}/);
    await expect(readDockerfileTemplate(ROOT)).resolves.toBe(template);
  });

  it('starts from the base for the requested platform and runs no command inside the image', () => {
    expect(lines[0]).toBe('FROM --platform=linux/amd64 node:20-bookworm-slim');
    expect(find('RUN')).toEqual([]);
    expect(find('ADD')).toEqual([]); // ADD could fetch URLs; COPY cannot
    expect(generateDockerfile({ ...base, platform: 'linux/arm64' })).toContain('FROM --platform=linux/arm64 ');
  });

  it('copies dependencies, then the server, then the model: least changed first', () => {
    expect(find('COPY')).toEqual([`COPY deps/ ${APP_DIR}/`, `COPY app/ ${APP_DIR}/`, `COPY model/ ${APP_DIR}/`]);
  });

  it('runs as a numeric non-root user, exposes the port, stops with SIGTERM', () => {
    expect(find('USER')).toEqual(['USER 10001:10001']);
    expect(find('EXPOSE')).toEqual(['EXPOSE 8080']);
    expect(find('STOPSIGNAL')).toEqual(['STOPSIGNAL SIGTERM']);
    expect(find('ENTRYPOINT')).toEqual([`ENTRYPOINT ["node", "${APP_DIR}/modelgate.mjs", "serve"]`]);
  });

  it('binds every interface and serves the pinned version from the baked registry', () => {
    const env = parsePairs(find('ENV')[0].slice(4));
    expect(env).toEqual({
      NODE_ENV: 'production',
      MODELGATE_HOST: '0.0.0.0',
      MODELGATE_PORT: '8080',
      ORT_DISABLE_TELEMETRY: '1',
      MODELGATE_REGISTRY_URI: `file:${APP_DIR}/registry`,
      MODELGATE_MODEL_URI: 'models:/iris/3',
    });
  });

  it('passes extra environment through, and the port follows MODELGATE_PORT', () => {
    const t = generateDockerfile({
      ...base,
      env: { MODELGATE_MAX_BODY_BYTES: '1048576', MODELGATE_PORT: '9000', GREETING: 'a "b" $HOME \\n' },
    });
    const env = parsePairs(
      instructions(t)
        .find((l) => l.startsWith('ENV '))!
        .slice(4),
    );
    expect(env.MODELGATE_MAX_BODY_BYTES).toBe('1048576');
    expect(env.GREETING).toBe('a "b" $HOME \\n');
    expect(instructions(t)).toContain('EXPOSE 9000');
    expect(t).toContain('||9000)');
  });

  it('puts labels last (a new build date keeps the cached layers) and quotes them exactly', () => {
    const labels = { 'io.modelgate.model.files': '[{"path":"model.onnx","sha256":"ab"}]', 'org.opencontainers.image.title': 'ir$is "x"' };
    const t = instructions(generateDockerfile({ ...base, labels }));
    const idx = t.findIndex((l) => l.startsWith('LABEL '));
    expect(t.slice(idx + 1).map((l) => l.split(' ')[0])).toEqual(['ENTRYPOINT']);
    expect(parsePairs(t[idx].slice(6))).toEqual(labels);
  });

  it('has a HEALTHCHECK that needs only node and reads the port at check time', () => {
    const hc = find('HEALTHCHECK')[0];
    expect(hc).toMatch(/^HEALTHCHECK --interval=\d+s --timeout=\d+s --start-period=\d+s --retries=\d+ CMD \[/);
    const cmd = JSON.parse(hc.slice(hc.indexOf('CMD ') + 4)) as string[];
    expect(cmd).toEqual(healthcheckCommand(8080));
    expect(cmd[0]).toBe('node');
  });

  it('refuses values that would break the Dockerfile or the baked model', () => {
    expect(() => generateDockerfile({ ...base, env: { 'BAD-NAME': 'x' } })).toThrow(/Invalid environment variable name/);
    expect(() => generateDockerfile({ ...base, env: { A: 'line\nRUN rm -rf /' } })).toThrow(/control character/);
    expect(() => generateDockerfile({ ...base, env: { MODELGATE_MODEL_URI: 'models:/other/1' } })).toThrow(/cannot be overridden/);
    expect(() => generateDockerfile({ ...base, env: { MODELGATE_REGISTRY_URI: 'file:/x' } })).toThrow(/cannot be overridden/);
    expect(() => generateDockerfile({ ...base, env: { MODELGATE_PORT: '70000' } })).toThrow(/port number/);
    expect(() => generateDockerfile({ ...base, labels: { 'Bad Key': 'x' } })).toThrow(/Invalid label key/);
    expect(() => generateDockerfile({ ...base, baseImage: 'node:20\nRUN x' })).toThrow(/Invalid base image/);
    expect(() => generateDockerfile({ ...base, platform: 'linux/s390x' as 'linux/amd64' })).toThrow(/Unsupported platform/);
  });

  it('is deterministic', () => {
    expect(generateDockerfile(base)).toBe(text);
    expect(DEFAULT_BASE_IMAGE).toMatch(/^node:20/);
  });
});

describe('renderTemplate', () => {
  it('fails on a placeholder without a value and on a value without a placeholder', () => {
    expect(renderTemplate('a {{X}} b', { X: '1' })).toBe('a 1 b');
    expect(() => renderTemplate('a {{X}} {{Y}}', { X: '1' })).toThrow(/\{\{Y\}\}/);
    expect(() => renderTemplate('a {{X}}', { X: '1', Z: '2' })).toThrow(/does not use \{\{Z\}\}/);
  });
});

describe('quote / imageEnv', () => {
  it('escapes backslash, double quote and dollar', () => {
    expect(quote('a\\b"c$d')).toBe('"a\\\\b\\"c\\$d"');
  });

  it('the image env always pins model and registry', () => {
    expect(imageEnv('models:/m/1', { X: 'y' })).toMatchObject({ X: 'y', MODELGATE_MODEL_URI: 'models:/m/1' });
  });
});

describe('several models in one image', () => {
  const models = [
    { name: 'iris', uri: 'models:/iris/3' },
    { name: 'tree', uri: 'models:/iris-tree/1' },
  ];

  it('lists them in MODELGATE_MODELS by name, in place of MODELGATE_MODEL_URI', () => {
    const env = imageEnv('models:/iris/3, models:/iris-tree/1', {}, models);
    expect(env.MODELGATE_MODEL_URI).toBeUndefined();
    expect(JSON.parse(env.MODELGATE_MODELS)).toEqual([
      { name: 'iris', primary: 'models:/iris/3' },
      { name: 'tree', primary: 'models:/iris-tree/1' },
    ]);
  });

  it('writes the list into the Dockerfile as the parser reads it back, and refuses to have it overridden', () => {
    const env = instructions(generateDockerfile({ ...base, models })).find((l) => l.startsWith('ENV '))!;
    expect(JSON.parse(parsePairs(env.slice(4)).MODELGATE_MODELS)).toHaveLength(2);
    expect(() => generateDockerfile({ ...base, models, env: { MODELGATE_MODELS: '[]' } })).toThrow(/cannot be overridden/);
    expect(() => generateDockerfile({ ...base, env: { MODELGATE_MODELS: '[]' } })).toThrow(/cannot be overridden/);
  });
});
