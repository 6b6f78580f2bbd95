/** modelgate's version (kept equal to package.json's by a test). */
export const MODELGATE_VERSION = '0.1.0';
