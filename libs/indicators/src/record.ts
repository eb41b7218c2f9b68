// The one plain-object guard of the libraries (JSON objects, not arrays or null).

/** True for a non-null object that is not an array: a JSON object as parsed. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
