/**
 * Registry credentials for `--push`, found where the docker CLI keeps them: `auths` in
 * $DOCKER_CONFIG/config.json (default ~/.docker/config.json), or a credential helper
 * (`credHelpers` per registry, `credsStore` for all) run as `docker-credential-<name> get`.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Environment, environment } from '../config/env.js';

/** The Engine API's AuthConfig (sent as X-Registry-Auth). */
export interface AuthConfig {
  username?: string;
  password?: string;
  identitytoken?: string;
  serveraddress?: string;
}

export interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Docker Hub's key in config.json, for images without a registry host. */
export const DOCKER_HUB = 'https://index.docker.io/v1/';

/** The registry host of an image reference (`docker.io` when the first component is not a host). */
export function registryHost(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : 'docker.io';
}

/** Splits `host:5000/ns/name:tag` into repository and tag (default `latest`); digests are refused. */
export function splitImageReference(image: string): { repository: string; tag: string } {
  if (image.includes('@')) throw new Error(`Give a tag, not a digest: ${image}`);
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? { repository: image.slice(0, colon), tag: image.slice(colon + 1) } : { repository: image, tag: 'latest' };
}

function normalizeKey(key: string): string {
  const host = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

export function dockerConfigPath(env: Environment = environment()): string {
  return join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

export async function readDockerConfig(path = dockerConfigPath()): Promise<DockerConfigFile> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as DockerConfigFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`Cannot read the Docker config ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export type CredentialHelper = (helper: string, serverUrl: string) => Promise<{ Username: string; Secret: string } | undefined>;

/** Runs `docker-credential-<helper> get` with the server URL on stdin (no shell). */
export const runCredentialHelper: CredentialHelper = (helper, serverUrl) =>
  new Promise((resolve, reject) => {
    if (!/^[A-Za-z0-9_.-]+$/.test(helper)) return reject(new Error(`Invalid credential helper name '${helper}'`));
    const child = execFile(`docker-credential-${helper}`, ['get'], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        // Helpers print "credentials not found in native keychain" when they have nothing for the host.
        if (/not found/i.test(`${stdout}${stderr}`)) return resolve(undefined);
        return reject(new Error(`docker-credential-${helper} get failed: ${(stderr || err.message).trim()}`));
      }
      try {
        resolve(JSON.parse(stdout) as { Username: string; Secret: string });
      } catch {
        reject(new Error(`docker-credential-${helper} get printed something that is not JSON`));
      }
    });
    child.stdin?.end(serverUrl);
  });

/**
 * Credentials for pushing `image`. No entry is not an error: the push is then anonymous, which
 * a local registry accepts and others refuse with their own message.
 */
export async function authFor(
  image: string,
  config: DockerConfigFile,
  helper: CredentialHelper = runCredentialHelper,
): Promise<AuthConfig> {
  const host = registryHost(image);
  const serveraddress = host === 'docker.io' ? DOCKER_HUB : host;
  const helperName = config.credHelpers?.[host] ?? config.credsStore;
  // The docker CLI's order: a helper for this host, else the default store, else `auths`.
  if (helperName !== undefined) {
    const creds = await helper(helperName, serveraddress);
    if (creds !== undefined) {
      // Helpers return the user name "<token>" for identity tokens (docker/cli credentials/native_store.go).
      return creds.Username === '<token>'
        ? { identitytoken: creds.Secret, serveraddress }
        : { username: creds.Username, password: creds.Secret, serveraddress };
    }
  }
  const entry = Object.entries(config.auths ?? {}).find(([k]) => normalizeKey(k) === host)?.[1];
  if (entry?.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new Error(`The auth entry for ${host} in the Docker config is not base64 of user:password`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress };
  }
  if (entry?.identitytoken) return { identitytoken: entry.identitytoken, serveraddress };
  if (entry?.username !== undefined && entry.password !== undefined)
    return { username: entry.username, password: entry.password, serveraddress };
  return { serveraddress };
}
