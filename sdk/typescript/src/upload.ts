// What createJob() accepts as a video, turned into something a request can send again on a
// retry: a Blob (File), or React Native's `{uri, name, type}` file descriptor.
import { KneecaveError } from "./errors.js";

/** React Native's FormData file descriptor (e.g. from an image/video picker). */
export interface ReactNativeFile {
  uri: string;
  name?: string;
  type?: string;
}

/**
 * A video to upload:
 * - a `Blob` or `File` (browsers, React Native with Blob support, Node ≥ 18);
 * - a `Uint8Array` or `ArrayBuffer` (the bytes);
 * - a `string`: a file path (Node only), read from disk (streamed from disk on Node ≥ 19.8);
 * - a Node `Readable` or any `AsyncIterable<Uint8Array>`, or a web `ReadableStream`: read into
 *   memory first, so the upload can be retried;
 * - a React Native `{uri, name, type}` descriptor.
 */
export type VideoInput =
  | Blob
  | Uint8Array
  | ArrayBuffer
  | string
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | ReactNativeFile;

export interface PreparedVideo {
  /** A Blob, or a React Native file descriptor (FormData takes it as is). */
  part: Blob | ReactNativeFile;
  filename: string;
}

const TYPES: Record<string, string> = {
  mp4: "video/mp4",
  m4v: "video/mp4",
  mov: "video/quicktime",
  webm: "video/webm",
  mkv: "video/x-matroska",
  avi: "video/x-msvideo",
  "3gp": "video/3gpp",
};

function typeOf(filename: string): string {
  const ext = filename.split(".").pop()?.toLowerCase() ?? "";
  return TYPES[ext] ?? "application/octet-stream";
}

function basename(path: string): string {
  return path.split(/[\\/]/).pop() || "video";
}

interface NodeFs {
  openAsBlob?: (path: string, options?: { type?: string }) => Promise<Blob>;
  promises: { readFile(path: string): Promise<Uint8Array> };
}

// A computed specifier: bundlers for browsers and React Native leave it alone (it is only
// reached when a string path is passed, which only makes sense on Node).
const FS_MODULE = "node:fs";

async function fromPath(path: string, filename: string | undefined): Promise<PreparedVideo> {
  const name = filename ?? basename(path);
  let fs: NodeFs;
  try {
    fs = (await import(/* webpackIgnore: true */ /* @vite-ignore */ FS_MODULE)) as NodeFs;
  } catch (cause) {
    throw new KneecaveError(
      "a string video is a file path, which needs Node's fs: pass a Blob, File or Uint8Array here",
      { cause },
    );
  }
  const type = typeOf(name);
  if (typeof fs.openAsBlob === "function") {
    // Node >= 19.8: a Blob backed by the file, streamed by fetch and re-readable on retry.
    return { part: await fs.openAsBlob(path, { type }), filename: name };
  }
  const bytes = await fs.promises.readFile(path);
  return { part: new Blob([bytes as BlobPart], { type }), filename: name };
}

function isReactNativeFile(value: unknown): value is ReactNativeFile {
  return typeof value === "object" && value !== null && typeof (value as ReactNativeFile).uri === "string";
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

function isReadableStream(value: unknown): value is ReadableStream<Uint8Array> {
  return typeof value === "object" && value !== null && typeof (value as ReadableStream).getReader === "function";
}

async function collect(stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  if (isReadableStream(stream)) {
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    return chunks;
  }
  for await (const chunk of stream) {
    // A Node stream without an encoding yields Buffers (Uint8Array); refuse text streams.
    if (!(chunk instanceof Uint8Array)) {
      throw new KneecaveError("a video stream must yield bytes (Uint8Array/Buffer), not text");
    }
    chunks.push(chunk);
  }
  return chunks;
}

export async function prepareVideo(video: VideoInput, filename?: string): Promise<PreparedVideo> {
  if (typeof video === "string") return fromPath(video, filename);
  if (typeof Blob !== "undefined" && video instanceof Blob) {
    const own = (video as { name?: unknown }).name; // a File has a name
    const name = filename ?? (typeof own === "string" && own ? own : "video");
    return { part: video, filename: name };
  }
  const name = filename ?? "video";
  if (video instanceof Uint8Array || video instanceof ArrayBuffer) {
    return { part: new Blob([video as BlobPart], { type: typeOf(name) }), filename: name };
  }
  if (isReadableStream(video) || isAsyncIterable(video)) {
    return { part: new Blob((await collect(video)) as BlobPart[], { type: typeOf(name) }), filename: name };
  }
  if (isReactNativeFile(video)) {
    return { part: video, filename: filename ?? video.name ?? basename(video.uri) };
  }
  throw new KneecaveError(
    "unsupported video: pass a Blob/File, Uint8Array, ArrayBuffer, file path, stream or {uri}",
  );
}

/** A fresh multipart body for one attempt (a FormData is not reused across retries). */
export function multipart(video: PreparedVideo, fields: Record<string, string | undefined>): FormData {
  const form = new FormData();
  if (typeof Blob !== "undefined" && video.part instanceof Blob) {
    form.append("video", video.part, video.filename);
  } else {
    const file = video.part as ReactNativeFile;
    // React Native's FormData takes a {uri, name, type} descriptor in place of a Blob.
    const descriptor = { uri: file.uri, name: video.filename, type: file.type ?? typeOf(video.filename) };
    form.append("video", descriptor as unknown as Blob);
  }
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) form.append(key, value);
  }
  return form;
}
