// A real OTLP/HTTP (JSON) receiver on loopback, for tracing tests.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';

export interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
  attributes?: { key: string; value: OtlpValue }[];
  status?: { code?: number };
}
export interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: OtlpValue }[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

export const SPAN_KIND_SERVER = 2;
export const SPAN_KIND_CLIENT = 3;
export const STATUS_ERROR = 2;

export const plain = (v: OtlpValue | undefined): unknown =>
  v === undefined
    ? undefined
    : v.arrayValue
      ? (v.arrayValue.values ?? []).map(plain)
      : v.intValue !== undefined
        ? Number(v.intValue)
        : (v.stringValue ?? v.boolValue);
export const attrs = (s: { attributes?: { key: string; value: OtlpValue }[] }): Record<string, unknown> =>
  Object.fromEntries((s.attributes ?? []).map((a) => [a.key, plain(a.value)]));
/** OTLP/JSON ids are hex; tolerate base64 from encoders that follow protobuf JSON mapping. */
export const hex = (id: string | undefined): string =>
  id === undefined || id === '' ? '' : /^[0-9a-f]+$/.test(id) ? id : Buffer.from(id, 'base64').toString('hex');

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startReceiver(t: Test): Promise<{ url: string; exports: OtlpExport[]; paths: string[]; contentTypes: string[] }> {
  const exports: OtlpExport[] = [];
  const paths: string[] = [];
  const contentTypes: string[] = [];
  const server = createServer((req, res) => {
    void body(req).then((text) => {
      paths.push(req.url ?? '');
      contentTypes.push(String(req.headers['content-type']));
      exports.push(JSON.parse(text) as OtlpExport);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, exports, paths, contentTypes };
}

