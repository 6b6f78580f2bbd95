import { GatewayError } from '../errors.js';

/** MLflow's registered-model name rules, plus what a directory name needs. */
export function validateModelName(name: string): void {
  if (name.length === 0 || name.length > 256 || /[/\\@\x00-\x1f]/.test(name) || name === '.' || name === '..') {
    throw new GatewayError(
      'INVALID_PARAMETER_VALUE',
      `Invalid model name '${name}': use 1–256 characters without '/', '\\', '@' or control characters.`,
    );
  }
}

/** MLflow's alias rules: word characters and '-', not 'latest', not a version-like 'v<digits>'. */
export function validateAlias(alias: string): void {
  if (!/^[\w-]{1,255}$/.test(alias) || alias.toLowerCase() === 'latest' || /^v\d+$/i.test(alias)) {
    throw new GatewayError(
      'INVALID_PARAMETER_VALUE',
      `Invalid alias '${alias}': use letters, digits, '_' or '-' (at most 255); 'latest' and 'v<number>' are reserved.`,
    );
  }
}
