// RateLimit: where a budget stood after a request, read from the IETF `RateLimit-Policy` and
// `RateLimit` header fields (draft-ietf-httpapi-ratelimit-headers: structured-field lists).
// Tolerant by design: the fields are advisory, so a missing or malformed field gives
// undefined (or an undefined part), never a throw inside an otherwise good response.

/** A budget as the server counted it, e.g. `{policy: "poll", limit: 1200, remaining: 1187,
 * resetSeconds: 41}`: `remaining` requests of `limit` until the window resets. */
export interface RateLimit {
  /** The budget's name: `poll` (reads), `submit` (changes) or `auth` (failed logins). */
  readonly policy: string;
  /** Requests per window (`q` of the matching RateLimit-Policy); undefined when not sent. */
  readonly limit: number | undefined;
  /** Requests left in this window (`r`). */
  readonly remaining: number;
  /** Seconds until the window resets (`t`); undefined when not sent. */
  readonly resetSeconds: number | undefined;
}

type Bare = string | number;
type Item = [name: string, params: Map<string, Bare | undefined>];

const TOKEN = /[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*/y;
const KEY = /[a-z*][a-z0-9_\-.*]*/y;
const INTEGER = /-?[0-9]{1,15}(?![0-9.])/y;
const OTHER = /[^\s;,]+/y; // decimals, booleans, byte sequences: kept, never used

/** The budget a response reports, or undefined when it has no (readable) `RateLimit` field.
 * With several policies in one response, the one with the fewest requests left. */
export function parseRateLimit(headers: Headers): RateLimit | undefined {
  const policies = new Map(parseList(headers.get("ratelimit-policy")));
  let tightest: RateLimit | undefined;
  for (const [policy, params] of parseList(headers.get("ratelimit"))) {
    const remaining = count(params.get("r"));
    if (remaining === undefined) continue;
    const limit = count(policies.get(policy)?.get("q"));
    if (tightest === undefined || remaining < tightest.remaining) {
      tightest = { policy, limit, remaining, resetSeconds: count(params.get("t")) };
    }
  }
  return tightest;
}

function count(value: Bare | undefined): number | undefined {
  return typeof value === "number" && value >= 0 ? value : undefined;
}

/** An RFC 9651 list of items as [item, parameters]; [] when absent or malformed. */
function parseList(value: string | null): Item[] {
  if (value === null) return [];
  const items: Item[] = [];
  let pos = skip(value, 0);
  while (pos < value.length) {
    const [item, afterItem] = bareItem(value, pos);
    if (item === undefined) return [];
    pos = afterItem;
    const params = new Map<string, Bare | undefined>();
    while (value[pos] === ";") {
      KEY.lastIndex = skip(value, pos + 1);
      const key = KEY.exec(value)?.[0];
      if (key === undefined) return [];
      pos = KEY.lastIndex;
      let param: Bare | undefined;
      if (value[pos] === "=") {
        [param, pos] = bareItem(value, pos + 1);
        if (param === undefined) return [];
      }
      params.set(key, param);
    }
    items.push([String(item), params]);
    pos = skip(value, pos);
    if (pos < value.length) {
      if (value[pos] !== ",") return [];
      pos = skip(value, pos + 1);
    }
  }
  return items;
}

/** One bare item at `pos` (string, token, integer, or another kind kept as text). */
function bareItem(value: string, pos: number): [Bare | undefined, number] {
  if (value[pos] === '"') {
    let out = "";
    for (let i = pos + 1; i < value.length; i++) {
      const ch = value[i]!;
      if (ch === "\\" && i + 1 < value.length) out += value[++i];
      else if (ch === '"') return [out, i + 1];
      else out += ch;
    }
    return [undefined, value.length]; // unterminated string
  }
  for (const pattern of [INTEGER, TOKEN, OTHER]) {
    pattern.lastIndex = pos;
    const match = pattern.exec(value)?.[0];
    if (match !== undefined) return [pattern === INTEGER ? Number(match) : match, pattern.lastIndex];
  }
  return [undefined, pos];
}

function skip(value: string, pos: number): number {
  while (value[pos] === " " || value[pos] === "\t") pos++;
  return pos;
}
