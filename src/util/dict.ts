/**
 * Objects keyed by names that come from outside (request bodies, signatures, model files). A
 * plain `{}` reads `constructor` or `toString` from its prototype and treats `__proto__` as a
 * setter, so a column or input with such a name would change the object instead of filling it.
 */

/** An empty object without a prototype: every key, `__proto__` included, is an ordinary own key. */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/**
 * Sets an own property on an ordinary object (one handed to user code, which expects the usual
 * prototype) even when the key is `__proto__`.
 */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}
