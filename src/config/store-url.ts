// rateLimits.store (SPEC §11): memory, or the Redis URL counters are kept at. Checked when the
// configuration is compiled, and again by the store that connects to it (limits/store.ts); a
// message about it never repeats a password.

/** The Redis URL of `store`, undefined for 'memory', or why it is neither (without the password). */
export function parseStoreUrl(store: string): { readonly redis?: URL } | { readonly problem: string } {
  if (store === 'memory') return {};
  let parsed: URL | undefined;
  try {
    parsed = new URL(store);
  } catch {
    // new URL's error holds the input, password and all: it is not passed on.
  }
  if (!parsed || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || !parsed.hostname || !/^\/?\d*$/.test(parsed.pathname)) {
    const got = parsed ? withoutPassword(parsed) : 'something that is not a URL';
    return { problem: `the store must be memory, redis://[user:password@]host:port[/db] or rediss://… (got ${got})` };
  }
  return { redis: parsed };
}

/** `url` without its password (the user name stays: it tells which account, and is no secret). */
export function withoutPassword(url: URL): string {
  if (!url.password) return url.href;
  const copy = new URL(url.href);
  copy.password = '';
  return copy.href;
}

