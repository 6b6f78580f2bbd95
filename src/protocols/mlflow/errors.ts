/**
 * MLflow's error body, `{"error_code", "message", "sqlstate", "error_class"}`, from a gateway error.
 */
import { type ErrorClass, type ErrorCode, type GatewayError, clientMessage } from '../../errors.js';

/**
 * MLflow 3's error classes and SQLSTATE-style codes, derived from `error_code` when a raise site
 * names no class (its `_CLIENT_ERROR_CODE_TO_ERROR_CLASS` and `_CLIENT_ERROR_CODE_TO_SQLSTATE`);
 * a code missing here gets neither field, as in MLflow.
 */
const CODE_TO_ERROR_CLASS: Partial<Record<ErrorCode, ErrorClass>> = {
  BAD_REQUEST: 'INVALID_PARAMETER_VALUE',
  INVALID_PARAMETER_VALUE: 'INVALID_PARAMETER_VALUE',
  ENDPOINT_NOT_FOUND: 'RESOURCE_NOT_FOUND',
  RESOURCE_DOES_NOT_EXIST: 'RESOURCE_NOT_FOUND',
  RESOURCE_ALREADY_EXISTS: 'RESOURCE_ALREADY_EXISTS',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  INTERNAL_ERROR: 'CLIENT_INTERNAL_ERROR',
  INVALID_STATE: 'CLIENT_INTERNAL_ERROR',
  TEMPORARILY_UNAVAILABLE: 'CLIENT_INTERNAL_ERROR',
};
const CODE_TO_SQLSTATE: Partial<Record<ErrorCode, string>> = {
  BAD_REQUEST: 'KAM00',
  INVALID_PARAMETER_VALUE: 'KAM00',
  ENDPOINT_NOT_FOUND: 'KAM00',
  RESOURCE_DOES_NOT_EXIST: 'KAM00',
  RESOURCE_ALREADY_EXISTS: 'KAM00',
  PERMISSION_DENIED: 'KAM00',
  INTERNAL_ERROR: 'XXM00',
  INVALID_STATE: 'XXM00',
  TEMPORARILY_UNAVAILABLE: 'XXM00',
};
/** The classes whose SQLSTATE is not their code's (MLflow's `_ERROR_CLASS_TO_SQLSTATE`). */
const CLASS_TO_SQLSTATE: Partial<Record<ErrorClass, string>> = { SCHEMA_ENFORCEMENT_FAILED: 'KAM01' };

/**
 * `{"error_code", "message", "sqlstate", "error_class"}`: MLflow 3's body shape (MLflow 2.x
 * clients read the first two). MLflow's `stack_trace` is never sent; `request_id` (5xx only) is ours.
 */
export interface ErrorBody {
  error_code: ErrorCode;
  message: string;
  sqlstate?: string;
  error_class?: ErrorClass;
  request_id?: string;
}

export function toErrorBody(err: GatewayError, requestId?: string): ErrorBody {
  const body: ErrorBody = { error_code: err.code, message: clientMessage(err.message) };
  const errorClass = err.errorClass ?? CODE_TO_ERROR_CLASS[err.code];
  const sqlstate = (errorClass === undefined ? undefined : CLASS_TO_SQLSTATE[errorClass]) ?? CODE_TO_SQLSTATE[err.code];
  if (sqlstate !== undefined) body.sqlstate = sqlstate;
  if (errorClass !== undefined) body.error_class = errorClass;
  if (requestId !== undefined && err.status >= 500) body.request_id = requestId;
  return body;
}
