export { DATATYPE_DTYPE, v2Datatype } from './datatypes.js';
export { v2ErrorBody } from './errors.js';
export { modelMetadata } from './metadata.js';
export { v2Protocol } from './protocol.js';
export { type InferRequest, decodeInferRequest } from './request.js';
export { type InferResponseContext, encodeInferResponse } from './response.js';
