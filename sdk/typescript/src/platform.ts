// The little the SDK needs from its platform, with fallbacks where Node 18, browsers and
// React Native differ (no Node types here: this file is built with the DOM library only).
import { KneecaveError } from "./errors.js";

/** An environment variable on Node (and runtimes that have `process.env`), else undefined. */
export function env(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const value = proc?.env?.[name];
  return value ? value : undefined;
}

// Node 18 has no global `crypto` unless --experimental-global-webcrypto: take node:crypto's.
const CRYPTO_MODULE = "node:crypto";

export async function webCrypto(): Promise<Crypto> {
  const global = (globalThis as { crypto?: Crypto }).crypto;
  if (global?.subtle) return global;
  try {
    const mod = (await import(/* webpackIgnore: true */ /* @vite-ignore */ CRYPTO_MODULE)) as {
      webcrypto?: Crypto;
    };
    if (mod.webcrypto?.subtle) return mod.webcrypto;
  } catch {
    // not Node: fall through
  }
  throw new KneecaveError(
    "Web Crypto (crypto.subtle) is not available here; webhook verification needs it " +
      "(React Native: install a crypto.subtle polyfill, or verify webhooks on your server)",
  );
}

/** A random v4 UUID (idempotency keys): unique, not secret. From the platform's CSPRNG (on
 * Node 18, node:crypto's: it has no global `crypto`), else Math.random (old React Native). */
export async function uuid4(): Promise<string> {
  const global = (globalThis as { crypto?: Partial<Crypto> }).crypto;
  const c: Partial<Crypto> | undefined = global?.getRandomValues ? global : await webCrypto().catch(() => undefined);
  if (typeof c?.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (typeof c?.getRandomValues === "function") {
    c.getRandomValues(bytes);
  } else {
    for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function base64Encode(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    out += ALPHABET[a >> 2]! + ALPHABET[((a & 3) << 4) | ((b ?? 0) >> 4)]!;
    out += b === undefined ? "=" : ALPHABET[((b & 15) << 2) | ((c ?? 0) >> 6)]!;
    out += c === undefined ? "=" : ALPHABET[c & 63]!;
  }
  return out;
}

/** Standard base64 (padding optional); throws on anything else. */
export function base64Decode(text: string): Uint8Array {
  const clean = text.replace(/=+$/, "");
  if (!/^[A-Za-z0-9+/]*$/.test(clean) || clean.length % 4 === 1) {
    throw new KneecaveError("not valid base64");
  }
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let n = 0;
  for (const ch of clean) {
    value = (value << 6) | ALPHABET.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      // The signal's own reason, whatever it is, as fetch does.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export function abortReason(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  if (reason !== undefined) return reason;
  const error = new Error("This operation was aborted");
  error.name = "AbortError";
  return error;
}
