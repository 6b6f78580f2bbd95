/** Which registered model version this is; the labels of every metric about it. */
export interface ModelRef {
  readonly name: string;
  readonly version: string;
}
