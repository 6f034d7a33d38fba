// Deep freeze: a loaded configuration (and later a snapshot) cannot be changed by anyone holding it.

/** Freezes `value` and everything reachable from it, except byte buffers (which cannot be frozen). */
export function deepFreeze<T>(value: T, seen = new WeakSet<object>()): T {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || seen.has(value)) return value;
  seen.add(value);
  Object.freeze(value);
  for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key], seen);
  return value;
}
