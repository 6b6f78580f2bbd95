/**
 * HTTP to an MLflow tracking server as MLflow's own client does it: the same auth variables, the
 * same TLS knobs, retries with backoff on 5xx, 429, timeouts and dropped connections (never on
 * other 4xx), and MLflow's `{"error_code","message"}` bodies turned into GatewayErrors that name
 * the server. Credentials never appear in messages.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
// undici is imported when the first request is made: a server on the local registry never loads it.
import type { Agent, Dispatcher, request as Request } from 'undici';
import { traceHeaders } from '../../../monitor/trace/span.js';
import { ERROR_CODE_TO_STATUS, type ErrorCode, GatewayError, describeError } from '../../../errors.js';

export interface MlflowAuth {
  /** `Authorization: Bearer …` (MLFLOW_TRACKING_TOKEN); wins over basic auth, as in MLflow. */
  token?: string;
  /** Basic auth (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD). */
  username?: string;
  password?: string;
}

export interface MlflowClientOptions {
  auth?: MlflowAuth;
  /** Skip TLS certificate verification (MLFLOW_TRACKING_INSECURE_TLS). @default false */
  insecureTls?: boolean;
  /** PEM file of CA certificates to trust instead of the system's (MLFLOW_TRACKING_SERVER_CERT_PATH). */
  caBundlePath?: string;
  /** Time to wait for response headers, and for each chunk of a body (MLFLOW_HTTP_REQUEST_TIMEOUT). @default 120000 */
  timeoutMs?: number;
  /** Retries after the first attempt (MLFLOW_HTTP_REQUEST_MAX_RETRIES). @default 4 */
  maxRetries?: number;
  /** Backoff before retry n is `backoffMs * 2^(n-1)` (MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR, in seconds there). @default 500 */
  backoffMs?: number;
  /** Up to this much random time is added to each backoff (MLFLOW_HTTP_REQUEST_BACKOFF_JITTER). @default 250 */
  backoffJitterMs?: number;
  /** Longest single wait, also the cap on a server's Retry-After. @default 30000 */
  maxBackoffMs?: number;
}

export interface MlflowRegistryEnvOptions extends MlflowClientOptions {
  cacheDir: string;
}

const BOOL_TRUE = /^(1|true|yes|on)$/i;

function envNumber(env: Readonly<Record<string, string | undefined>>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0)
    throw new GatewayError('INVALID_PARAMETER_VALUE', `${name} must be a non-negative number, got '${raw}'`);
  return n;
}

/** The cache of downloaded MLflow model versions: MODELGATE_CACHE_DIR, else ~/.cache/modelgate. */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>>): string {
  const dir = env.MODELGATE_CACHE_DIR;
  return dir !== undefined && dir !== '' ? dir : join(homedir(), '.cache', 'modelgate');
}

/** The settings MLflow's Python client reads from the environment, under the same names. */
export function mlflowOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): MlflowRegistryEnvOptions {
  const insecureTls = BOOL_TRUE.test(env.MLFLOW_TRACKING_INSECURE_TLS ?? '');
  const caBundlePath = env.MLFLOW_TRACKING_SERVER_CERT_PATH || undefined;
  if (insecureTls && caBundlePath !== undefined) {
    // MLflow refuses this combination too: one says "verify with this CA", the other "do not verify".
    throw new GatewayError(
      'INVALID_PARAMETER_VALUE',
      'MLFLOW_TRACKING_INSECURE_TLS=true and MLFLOW_TRACKING_SERVER_CERT_PATH cannot both be set: choose one.',
    );
  }
  const seconds = (name: string) => {
    const n = envNumber(env, name);
    return n === undefined ? undefined : Math.round(n * 1000);
  };
  const auth: MlflowAuth = {};
  if (env.MLFLOW_TRACKING_TOKEN) auth.token = env.MLFLOW_TRACKING_TOKEN;
  if (env.MLFLOW_TRACKING_USERNAME) auth.username = env.MLFLOW_TRACKING_USERNAME;
  if (env.MLFLOW_TRACKING_PASSWORD) auth.password = env.MLFLOW_TRACKING_PASSWORD;
  const out: MlflowRegistryEnvOptions = { auth, insecureTls, cacheDir: defaultCacheDir(env) };
  if (caBundlePath !== undefined) out.caBundlePath = caBundlePath;
  const timeoutMs = seconds('MLFLOW_HTTP_REQUEST_TIMEOUT');
  if (timeoutMs !== undefined) out.timeoutMs = timeoutMs;
  const maxRetries = envNumber(env, 'MLFLOW_HTTP_REQUEST_MAX_RETRIES');
  if (maxRetries !== undefined) out.maxRetries = Math.floor(maxRetries);
  const backoffMs = seconds('MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR');
  if (backoffMs !== undefined) out.backoffMs = backoffMs;
  const jitter = seconds('MLFLOW_HTTP_REQUEST_BACKOFF_JITTER');
  if (jitter !== undefined) out.backoffJitterMs = jitter;
  return out;
}

/** An error answer from the server, kept with what it said so callers can re-map it (e.g. a missing alias). */
export class MlflowApiError extends GatewayError {
  constructor(
    code: ErrorCode,
    message: string,
    /** The status the MLflow server sent. */
    readonly httpStatus: number,
    /** MLflow's `error_code`, when the body had one. */
    readonly mlflowErrorCode: string | undefined,
    /** MLflow's `message`, without our context. */
    readonly mlflowMessage: string,
  ) {
    super(code, message);
  }
}

/** Thrown inside an attempt to ask for another one; `final` is what the caller sees if none is left. */
class Retryable extends Error {
  constructor(
    readonly final: GatewayError,
    readonly retryAfterMs?: number,
  ) {
    super(final.message);
  }
}

const KNOWN_CODES = new Set(Object.keys(ERROR_CODE_TO_STATUS));

function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'PERMISSION_DENIED';
  if (status === 404) return 'RESOURCE_DOES_NOT_EXIST';
  if (status === 409) return 'RESOURCE_CONFLICT';
  if (status === 429) return 'REQUEST_LIMIT_EXCEEDED';
  if (status >= 500) return 'TEMPORARILY_UNAVAILABLE';
  return 'BAD_REQUEST';
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);
/** Certificate problems do not fix themselves: no retry, and a hint at the TLS variables. */
const TLS_CODES =
  /^(UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_|HOSTNAME_MISMATCH)/;

/** The `code`s along an error's cause chain (undici wraps the socket's error). */
function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 4 && e instanceof Error; i++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') codes.push(code);
    e = e.cause;
  }
  return codes;
}

function causeText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 4 && e !== undefined && e !== null; i++) {
    const text = describeError(e);
    if (!parts.includes(text)) parts.push(text);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(': ');
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** A tracking URI split into where requests go and the credentials it carried (`https://user:pw@host`). */
function parseTrackingUri(uri: string): { base: string; username?: string; password?: string } {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new GatewayError(
      'INVALID_PARAMETER_VALUE',
      `'${uri}' is not a valid MLflow tracking URI (expected http(s)://host[:port][/path])`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new GatewayError('INVALID_PARAMETER_VALUE', `An MLflow tracking URI must be http(s)://…, got '${uri}'`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new GatewayError(
      'INVALID_PARAMETER_VALUE',
      `An MLflow tracking URI takes no query string or fragment: '${url.origin}${url.pathname}'`,
    );
  }
  const out: { base: string; username?: string; password?: string } = {
    base: `${url.origin}${url.pathname}`.replace(/\/+$/, ''),
  };
  if (url.username !== '') out.username = decodeURIComponent(url.username);
  if (url.password !== '') out.password = decodeURIComponent(url.password);
  return out;
}

export interface JsonRequest {
  query?: Record<string, string | undefined>;
  /** Sent as JSON with `Content-Type: application/json` (MLflow answers 400 without that header). */
  body?: unknown;
}

export class MlflowHttp {
  /** The tracking server's base URL, without credentials: `http://host:5000` or `https://host/prefix`. */
  readonly baseUrl: string;
  private readonly authorization: string | undefined;
  private readonly authDescription: string;
  private agent: Promise<{ agent: Agent; request: typeof Request }> | undefined;
  private readonly agentOptions: Agent.Options;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly backoffMs: number;
  private readonly jitterMs: number;
  private readonly maxBackoffMs: number;

  constructor(trackingUri: string, options: MlflowClientOptions = {}) {
    const parsed = parseTrackingUri(trackingUri);
    this.baseUrl = parsed.base;
    const auth = options.auth ?? {};
    const username = auth.username ?? parsed.username;
    const password = auth.password ?? parsed.password;
    if (auth.token !== undefined && auth.token !== '') {
      this.authorization = `Bearer ${auth.token}`;
      this.authDescription = 'the bearer token from MLFLOW_TRACKING_TOKEN';
    } else if (username !== undefined && password !== undefined) {
      this.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      this.authDescription = `basic auth as user '${username}'`;
    } else {
      this.authorization = undefined;
      this.authDescription = 'no credentials';
    }
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.maxRetries = options.maxRetries ?? 4;
    this.backoffMs = options.backoffMs ?? 500;
    this.jitterMs = options.backoffJitterMs ?? 250;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    let ca: string | undefined;
    if (options.caBundlePath !== undefined) {
      try {
        ca = readFileSync(options.caBundlePath, 'utf8');
      } catch (err) {
        throw new GatewayError('INVALID_PARAMETER_VALUE', `Cannot read the CA bundle ${options.caBundlePath}: ${describeError(err)}`);
      }
    }
    this.agentOptions = {
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      connect: {
        timeout: Math.min(this.timeoutMs, 30_000),
        rejectUnauthorized: options.insecureTls !== true,
        ...(ca === undefined ? {} : { ca }),
      },
    };
  }

  private undici() {
    this.agent ??= import('undici').then((u) => ({ agent: new u.Agent(this.agentOptions), request: u.request }));
    return this.agent;
  }

  /** An absolute URL for an API path such as `/api/2.0/mlflow/registered-models/get`. */
  url(path: string, query?: Record<string, string | undefined>): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) qs.append(k, v);
    const s = qs.toString();
    return `${this.baseUrl}${path}${s === '' ? '' : `?${s}`}`;
  }

  /** A JSON API call; non-2xx answers become MlflowApiErrors. */
  async json<T>(method: 'GET' | 'POST' | 'DELETE', path: string, req: JsonRequest = {}): Promise<T> {
    return this.jsonAt(method, this.url(path, req.query), req.body);
  }

  /** A JSON call to an absolute URL (artifact servers may live on another host). */
  async jsonAt<T>(method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<T> {
    return this.retrying(method, url, async () => {
      const res = await this.send(method, url, body);
      if (res.statusCode < 200 || res.statusCode >= 300) throw await this.errorFor(method, url, res);
      const text = await res.body.text();
      if (text.trim() === '') return {} as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new GatewayError(
          'INTERNAL_ERROR',
          `${method} ${url} answered ${res.statusCode} with a body that is not JSON: is this an MLflow tracking server?`,
        );
      }
    });
  }

  /**
   * Runs `attempt` until it succeeds, retrying what may pass (5xx, 429, timeouts, dropped
   * connections) with exponential backoff and jitter; the last failure names the URL and the
   * number of attempts.
   */
  async retrying<T>(method: string, url: string, attempt: (n: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let n = 0; ; n++) {
      try {
        return await attempt(n);
      } catch (err) {
        // Aborted because a sibling download failed: that failure is the one to report.
        if (signal?.aborted) throw err;
        const classified = err instanceof Retryable ? err : this.classify(method, url, err);
        if (!(classified instanceof Retryable)) throw classified;
        if (n >= this.maxRetries) {
          const tries = n + 1;
          const final = classified.final;
          throw new GatewayError(final.code, `${final.message}${tries > 1 ? ` (gave up after ${tries} attempts)` : ''}`, {
            cause: final,
            status: final.status,
          });
        }
        const backoff = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** n + Math.random() * this.jitterMs);
        await sleep(Math.min(this.maxBackoffMs, Math.max(backoff, classified.retryAfterMs ?? 0)), undefined, signal ? { signal } : {});
      }
    }
  }

  /** One request; the caller consumes (or dumps) the body. */
  async send(method: string, url: string, body?: unknown, signal?: AbortSignal): Promise<HttpResponse> {
    const headers: Record<string, string> = { 'user-agent': 'modelgate', accept: 'application/json, */*' };
    if (this.authorization !== undefined) headers.authorization = this.authorization;
    // A call made while a traced request is served (a model loaded on demand) is that span's child.
    traceHeaders(headers);
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const { agent, request } = await this.undici();
    const res = await request(url, {
      method: method as Dispatcher.HttpMethod,
      headers,
      body: payload,
      dispatcher: agent,
      ...(signal === undefined ? {} : { signal }),
    });
    if (res.statusCode >= 300 && res.statusCode < 400) {
      await res.body.dump();
      const location = header(res as HttpResponse, 'location') ?? '(no Location header)';
      // Following would re-send credentials to wherever the server points; name the target instead.
      throw new GatewayError(
        'INVALID_PARAMETER_VALUE',
        `${method} ${url} was redirected (${res.statusCode}) to ${location}: use the final address as the MLflow tracking URI.`,
      );
    }
    return res as HttpResponse;
  }

  /** Turns a non-2xx response into the error to throw (a Retryable for 5xx and 429). */
  async errorFor(method: string, url: string, res: HttpResponse): Promise<GatewayError | Retryable> {
    const status = res.statusCode;
    const type = header(res, 'content-type') ?? '';
    let text = '';
    try {
      text = await res.body.text();
    } catch {
      // the body is only for the message
    }
    let mlflowCode: string | undefined;
    let mlflowMessage = text.trim().slice(0, 500);
    if (type.includes('json')) {
      try {
        const parsed = JSON.parse(text) as { error_code?: unknown; message?: unknown };
        if (typeof parsed.error_code === 'string') mlflowCode = parsed.error_code;
        if (typeof parsed.message === 'string') mlflowMessage = parsed.message;
      } catch {
        // keep the raw text
      }
    }
    const where = `${method} ${url}`;
    if (status === 401) {
      return new MlflowApiError(
        'UNAUTHENTICATED',
        `The MLflow server at ${this.baseUrl} refused the request (401 Unauthorized) with ${this.authDescription}. ` +
          'Set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, to credentials it accepts.',
        status,
        mlflowCode,
        mlflowMessage,
      );
    }
    if (status === 403) {
      return new MlflowApiError(
        'PERMISSION_DENIED',
        `The MLflow server at ${this.baseUrl} denied ${where} (403) for ${this.authDescription}: ${mlflowMessage || 'permission denied'}`,
        status,
        mlflowCode,
        mlflowMessage,
      );
    }
    if (mlflowCode === undefined && status === 404) {
      // Not MLflow's JSON error: the route itself is missing (an older MLflow, or not MLflow at all).
      return new MlflowApiError(
        'ENDPOINT_NOT_FOUND',
        `${where} answered 404 (${type || 'no content type'}), not an MLflow error: is ${this.baseUrl} an MLflow tracking server (MLflow 2.x or 3.x)?`,
        status,
        undefined,
        mlflowMessage,
      );
    }
    const code: ErrorCode =
      status >= 500 || status === 429
        ? codeForStatus(status)
        : mlflowCode !== undefined && KNOWN_CODES.has(mlflowCode)
          ? (mlflowCode as ErrorCode)
          : codeForStatus(status);
    const error = new MlflowApiError(
      code,
      `${mlflowMessage || `HTTP ${status}`} (MLflow server ${this.baseUrl}: ${where} answered ${status}${mlflowCode === undefined ? '' : ` ${mlflowCode}`})`,
      status,
      mlflowCode,
      mlflowMessage,
    );
    if (status >= 500 || status === 429) return new Retryable(error, parseRetryAfter(header(res, 'retry-after')));
    return error;
  }

  /** A thrown network-level error, as what to tell the caller and whether another attempt may help. */
  classify(method: string, url: string, err: unknown): GatewayError | Retryable {
    if (err instanceof GatewayError) return err;
    const codes = errorCodes(err);
    const detail = causeText(err);
    if (codes.some((c) => TLS_CODES.test(c))) {
      return new GatewayError(
        'UNAUTHENTICATED',
        `TLS verification of the MLflow server at ${this.baseUrl} failed (${detail}). For a private CA set MLFLOW_TRACKING_SERVER_CERT_PATH to its PEM bundle; MLFLOW_TRACKING_INSECURE_TLS=true skips verification.`,
        { cause: err },
      );
    }
    if (codes.some((c) => TIMEOUT_CODES.has(c))) {
      return new Retryable(
        new GatewayError(
          'DEADLINE_EXCEEDED',
          `The MLflow server at ${this.baseUrl} did not answer ${method} ${url} within ${this.timeoutMs} ms (${detail})`,
          {
            cause: err,
          },
        ),
      );
    }
    return new Retryable(
      new GatewayError('TEMPORARILY_UNAVAILABLE', `Cannot reach the MLflow server at ${this.baseUrl} (${method} ${url}: ${detail})`, {
        cause: err,
      }),
    );
  }

  /** Wraps a failure seen while reading a body so the retry loop treats it like a dropped connection. */
  retryable(err: GatewayError): Retryable {
    return new Retryable(err);
  }

  async close(): Promise<void> {
    if (this.agent !== undefined) await (await this.agent).agent.close();
  }
}
