import { GatewayError } from '../../../errors.js';

/** The pickle is malformed, too large, or uses a feature the safe unpickler does not implement. */
export class UnpicklingError extends GatewayError {
  constructor(message: string) {
    super('INVALID_PARAMETER_VALUE', `Cannot read the pickle: ${message}`);
  }
}

/** The pickle names a class or function outside the allow-list; nothing in it was run. */
export class UnsafePickleError extends GatewayError {
  constructor(
    readonly where: string,
    readonly classPath: string,
  ) {
    super(
      'INVALID_PARAMETER_VALUE',
      `The pickle holds ${where} → ${classPath}, which modelgate does not load (pickled code is never executed; only plain scikit-learn estimators and numpy data are read). ` +
        'Hint: export the model to ONNX (skl2onnx) and log it with mlflow.onnx, or rewrite the custom step as a JS-code model.',
    );
  }
}
