/**
 * Push credentials as the docker CLI stores them, image references, and the daemon progress
 * formatting. The credential-helper case runs a real `docker-credential-*` executable.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DOCKER_HUB,
  authFor,
  dockerConfigPath,
  readDockerConfig,
  registryHost,
  runCredentialHelper,
  splitImageReference,
} from '../../src/docker/auth.js';
import { type ImageReport, formatImageReport, formatProgress } from '../../src/docker/build.js';
import { cleanup, tempDir } from './helpers.js';

afterAll(cleanup);

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('image references', () => {
  it('finds the registry host the way docker does', () => {
    expect(registryHost('iris:1')).toBe('docker.io');
    expect(registryHost('team/iris:1')).toBe('docker.io');
    expect(registryHost('registry.example.com/ml/iris:1')).toBe('registry.example.com');
    expect(registryHost('127.0.0.1:5000/iris')).toBe('127.0.0.1:5000');
    expect(registryHost('localhost/iris')).toBe('localhost');
  });

  it('splits repository and tag, with latest by default and a port not taken for a tag', () => {
    expect(splitImageReference('127.0.0.1:5000/iris:2')).toEqual({ repository: '127.0.0.1:5000/iris', tag: '2' });
    expect(splitImageReference('127.0.0.1:5000/iris')).toEqual({ repository: '127.0.0.1:5000/iris', tag: 'latest' });
    expect(() => splitImageReference('iris@sha256:abc')).toThrow(/digest/);
  });
});

describe('authFor', () => {
  const none = async () => undefined;

  it('decodes `auth` entries, matching hosts written with a scheme', async () => {
    const config = { auths: { 'https://registry.example.com': { auth: b64('ann:p:w') } } };
    expect(await authFor('registry.example.com/ml/iris:1', config, none)).toEqual({
      username: 'ann',
      password: 'p:w',
      serveraddress: 'registry.example.com',
    });
  });

  it('uses Docker Hub’s key for images without a host, and identity tokens', async () => {
    const config = { auths: { [DOCKER_HUB]: { identitytoken: 'tok' } } };
    expect(await authFor('team/iris:1', config, none)).toEqual({ identitytoken: 'tok', serveraddress: DOCKER_HUB });
  });

  it('prefers a credential helper for the host, then the default store, then auths', async () => {
    const calls: string[] = [];
    const helper = async (name: string, server: string) => {
      calls.push(`${name} ${server}`);
      return name === 'ecr' ? { Username: 'AWS', Secret: 's' } : undefined;
    };
    const config = {
      credHelpers: { 'reg.example.com': 'ecr' },
      credsStore: 'desktop',
      auths: { 'other.example.com': { auth: b64('u:p') } },
    };
    expect(await authFor('reg.example.com/iris:1', config, helper)).toEqual({
      username: 'AWS',
      password: 's',
      serveraddress: 'reg.example.com',
    });
    expect(await authFor('other.example.com/iris:1', config, helper)).toEqual({
      username: 'u',
      password: 'p',
      serveraddress: 'other.example.com',
    });
    expect(calls).toEqual(['ecr reg.example.com', 'desktop other.example.com']);
  });

  it('pushes anonymously when nothing matches', async () => {
    expect(await authFor('127.0.0.1:5000/iris:1', {}, none)).toEqual({ serveraddress: '127.0.0.1:5000' });
  });

  it('refuses a malformed auth entry', async () => {
    await expect(authFor('r.example.com/i', { auths: { 'r.example.com': { auth: b64('nocolon') } } }, none)).rejects.toThrow(
      /user:password/,
    );
  });

  it('runs a real docker-credential-* helper (stdin: server URL; "<token>" user = identity token)', async () => {
    const bin = await tempDir('mg-credhelper-');
    const script = join(bin, 'docker-credential-mgtest');
    await writeFile(
      script,
      `#!/bin/sh\n[ "$1" = get ] || exit 2\nread server\ncase "$server" in\n  tok.example.com) printf '{"ServerURL":"%s","Username":"<token>","Secret":"T"}' "$server";;\n  pw.example.com) printf '{"ServerURL":"%s","Username":"bob","Secret":"pw"}' "$server";;\n  *) echo "credentials not found in native keychain"; exit 1;;\nesac\n`,
    );
    await chmod(script, 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      const config = { credsStore: 'mgtest' };
      expect(await authFor('tok.example.com/iris:1', config)).toEqual({ identitytoken: 'T', serveraddress: 'tok.example.com' });
      expect(await authFor('pw.example.com/iris:1', config)).toEqual({ username: 'bob', password: 'pw', serveraddress: 'pw.example.com' });
      expect(await authFor('none.example.com/iris:1', config)).toEqual({ serveraddress: 'none.example.com' });
      await expect(runCredentialHelper('bad name', 'x')).rejects.toThrow(/Invalid credential helper/);
      await expect(runCredentialHelper('mg-missing-helper', 'x')).rejects.toThrow(/docker-credential-mg-missing-helper get failed/);
    } finally {
      process.env.PATH = path;
    }
  });

  it('reads $DOCKER_CONFIG/config.json; a missing file is no credentials, a broken one an error', async () => {
    const dir = await tempDir();
    expect(dockerConfigPath({ DOCKER_CONFIG: dir })).toBe(join(dir, 'config.json'));
    expect(await readDockerConfig(join(dir, 'config.json'))).toEqual({});
    await writeFile(join(dir, 'config.json'), '{not json');
    await expect(readDockerConfig(join(dir, 'config.json'))).rejects.toThrow(/Cannot read the Docker config/);
  });
});

describe('progress and report formatting', () => {
  it('prints build output as is, one line per push state, and nothing for errors (they become the exit message)', () => {
    const seen = new Map<string, string>();
    expect(formatProgress({ stream: 'Step 1/12 : FROM x\n' }, seen)).toBe('Step 1/12 : FROM x\n');
    expect(formatProgress({ id: 'abc', status: 'Pushing', progress: '[=>  ]' }, seen)).toBe('abc: Pushing\n');
    expect(formatProgress({ id: 'abc', status: 'Pushing', progress: '[==> ]' }, seen)).toBeUndefined();
    expect(formatProgress({ id: 'abc', status: 'Pushed' }, seen)).toBe('abc: Pushed\n');
    expect(formatProgress({ error: 'boom', errorDetail: { message: 'boom' } }, seen)).toBeUndefined();
    expect(formatProgress({ aux: { ID: 'sha256:1' } }, seen)).toBeUndefined();
  });

  it('reports total, base and added sizes with the COPY layers named', () => {
    const r: ImageReport = {
      id: 'sha256:1',
      size: 155_000_000,
      baseSize: 104_300_000,
      architecture: 'amd64',
      os: 'linux',
      user: '10001:10001',
      labels: {},
      layers: [
        { size: 50_300_000, createdBy: 'COPY dir:aaa in /opt/modelgate/' },
        { size: 400_000, createdBy: 'COPY dir:bbb in /opt/modelgate/' },
        { size: 3_900, createdBy: 'COPY dir:ccc in /opt/modelgate/' },
        { size: 0, createdBy: 'USER 10001:10001' },
      ],
    };
    const text = formatImageReport('iris:1', 'base:1', r);
    expect(text).toContain('image   155.0 MB');
    expect(text).toContain('base    104.3 MB  base:1');
    expect(text).toContain('added    50.7 MB');
    expect(text).toMatch(/50\.3 MB {2}COPY dependencies/);
    expect(text).toMatch(/0\.4 MB {2}COPY server/);
    expect(text).toMatch(/0\.0 MB {2}COPY model/);
    expect(text).not.toContain('USER');
  });
});
