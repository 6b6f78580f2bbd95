/** User info never leaves the process in URIs or messages, whatever the password holds. */
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { redactText, redactUri } from '../../src/util/redact.js';

describe('redaction of user info', () => {
  it.each([
    ['http://alice:s3cret@host:5000/mlflow', 'http://***@host:5000/mlflow'],
    ['https://alice:hunter@secret42@host', 'https://***@host'],
    ['https://token@host/path?x=1', 'https://***@host/path?x=1'],
    ['http://host:5000', 'http://host:5000'],
    ['file:./registry', 'file:./registry'],
  ])('%s → %s', (uri, shown) => {
    expect(redactUri(uri)).toBe(shown);
    expect(redactText(`at '${uri}' now`)).toBe(`at '${shown}' now`);
  });

  it('applies to every error message, however it was built', () => {
    const err = new GatewayError('INVALID_PARAMETER_VALUE', "'http://alice:s3cret@127.0.0.1:70000' is not a valid MLflow tracking URI");
    expect(err.message).toBe("'http://***@127.0.0.1:70000' is not a valid MLflow tracking URI");
  });
});
