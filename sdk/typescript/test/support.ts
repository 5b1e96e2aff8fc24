// A local HTTP server for the unit tests: scripted answers, every request recorded.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
  at: number;
}

export type Handler = (req: Seen, res: ServerResponse, index: number) => void | Promise<void>;

export interface Local {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

export async function serve(handler: Handler): Promise<Local> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const entry = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      };
      seen.push(entry);
      Promise.resolve(handler(entry, res, seen.length - 1)).catch((error: unknown) => {
        res.writeHead(599).end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

export function problem(
  res: ServerResponse,
  status: number,
  code: string,
  headers: Record<string, string> = {},
): void {
  const body = { type: "about:blank", title: code, status, detail: `${code} detail`, code, request_id: "req_body" };
  res.writeHead(status, { "content-type": "application/problem+json", ...headers }).end(JSON.stringify(body));
}

export function jobJson(status = "queued", extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "job_1",
    status,
    progress: 0,
    created_at: "2026-11-24T23:00:00Z",
    attempts: 0,
    view: "auto",
    exercise: "squat",
    mirrored: false,
    ...extra,
  };
}

/** The multipart fields of a recorded request, parsed by the platform's own Response. */
export async function formOf(req: Seen): Promise<FormData> {
  const type = String(req.headers["content-type"]);
  return new Response(new Uint8Array(req.body), { headers: { "content-type": type } }).formData();
}
