/**
 * Choosing a model by name (and version), as the Open Inference Protocol's paths do. The host
 * still splits traffic between versions of one model (canary weight, sticky keys); a version in
 * the path, or another model beside it, pins the route.
 */
import { GatewayError, ModelNotReadyError } from '../../errors.js';
import { type Acquire, type HeaderLookup, type Lease, type ModelHost, PIN_HEADER } from '../model-host.js';

export interface ServedAs {
  /** Every version of the model served here. */
  readonly versions: readonly string[];
  /** The route serving the requested version (the first, when none was asked for). */
  readonly route: string;
}

/** The routes serving `name` (at `version`); a model this server does not serve is a 404. */
export function servedAs(host: ModelHost, name: string, version: string | undefined): ServedAs {
  const serving = host.status().models.filter((m) => m.route !== 'shadow');
  if (serving.length === 0) throw new ModelNotReadyError();
  const named = serving.filter((m) => m.name === name);
  if (named.length === 0) {
    const names = [...new Set(serving.map((m) => m.name))];
    throw new GatewayError('RESOURCE_DOES_NOT_EXIST', `Model '${name}' is not served here; this server serves ${names.join(', ')}.`);
  }
  const match = version === undefined ? named : named.filter((m) => m.version === version);
  if (match.length === 0) {
    const versions = named.map((m) => m.version).join(', ');
    throw new GatewayError(
      'RESOURCE_DOES_NOT_EXIST',
      `Version ${version} of model '${name}' is not served here; it serves version ${versions}.`,
    );
  }
  return { versions: [...new Set(named.map((m) => m.version))], route: match[0].route ?? 'primary' };
}

/** A lease on `name` (at `version`), or undefined while no model is ready. */
export function acquireNamed(host: ModelHost, name: string, version: string | undefined): (header: HeaderLookup) => Lease | undefined {
  const fits = (l: Lease) => l.servable.ref.name === name && (version === undefined || l.servable.ref.version === version);
  return (header) => {
    // The common case first, without building the host's status: its own choice (or the version pin) fits.
    let first: Lease | undefined;
    try {
      first = host.acquire(version === undefined ? header : (h) => (h === PIN_HEADER ? version : header(h)));
    } catch {
      first = undefined; // a version no route serves: servedAs says so below
    }
    if (first !== undefined && fits(first)) return first;
    first?.release();
    if (first === undefined && !host.isReady()) return undefined;
    const { route: pin } = servedAs(host, name, version);
    const lease = host.acquire((h) => (h === PIN_HEADER ? pin : header(h)));
    if (lease !== undefined && !fits(lease)) {
      // The route switched versions between the look and the lease: the caller retries.
      lease.release();
      throw new ModelNotReadyError();
    }
    return lease;
  };
}

/**
 * The lease for a request naming `name` (at `version`), or naming none: the only model, or with
 * several the one its x-model-name header names. A host of one model ignores that header, as before.
 */
export function acquireModel(host: ModelHost, name: string | undefined, version?: string): Acquire {
  const catalog = host.catalog;
  if (catalog === undefined) return name === undefined ? (h) => host.acquire(h) : acquireNamed(host, name, version);
  if (name !== undefined) return catalog.acquirer(name, version);
  return (h) => catalog.acquirer(catalog.defaultName(h), undefined)(h);
}
