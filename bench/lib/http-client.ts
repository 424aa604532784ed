/**
 * A minimal HTTP/1.1 keep-alive client: one socket per worker, requests serialized to bytes once,
 * responses parsed only as far as the status line, Content-Length and the body. It costs the
 * load generator far less CPU than node:http or fetch, which matters on a machine where the
 * generator shares two cores with the server and PostgreSQL.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  /** The header block, lower-cased. */
  head: string;
  body: Buffer;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** The bytes of one request. */
export function rawRequest(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  const payload = body === undefined ? undefined : Buffer.from(body);
  if (payload !== undefined) lines.push(`Content-Length: ${payload.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
  return payload === undefined ? head : Buffer.concat([head, payload]);
}

export class HttpConnection {
  #socket: Socket | undefined;
  #buffer: Buffer = Buffer.alloc(0);
  #waiting: { resolve: (r: RawResponse) => void; reject: (e: Error) => void } | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  static forUrl(url: string): HttpConnection {
    const u = new URL(url);
    return new HttpConnection(u.hostname, Number(u.port));
  }

  async #open(): Promise<Socket> {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    const fail = (error: Error) => {
      if (this.#socket === socket) this.#socket = undefined;
      const waiting = this.#waiting;
      this.#waiting = undefined;
      waiting?.reject(error);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed by the server')));
    this.#socket = socket;
    this.#buffer = Buffer.alloc(0);
    return socket;
  }

  async request(bytes: Buffer): Promise<RawResponse> {
    if (this.#waiting !== undefined) throw new Error('one request at a time per connection');
    const socket = this.#socket ?? (await this.#open());
    return new Promise<RawResponse>((resolve, reject) => {
      this.#waiting = { resolve, reject };
      socket.write(bytes);
    });
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const headEnd = this.#buffer.indexOf(HEAD_END);
    if (headEnd < 0) return;
    const head = this.#buffer.toString('latin1', 0, headEnd).toLowerCase();
    const match = /\r\ncontent-length: *(\d+)/.exec(head);
    if (match?.[1] === undefined) {
      this.#fail(new Error(`response without Content-Length: ${head.slice(0, 200)}`));
      return;
    }
    const bodyStart = headEnd + HEAD_END.length;
    const bodyEnd = bodyStart + Number(match[1]);
    if (this.#buffer.length < bodyEnd) return;
    const body = this.#buffer.subarray(bodyStart, bodyEnd);
    this.#buffer = this.#buffer.subarray(bodyEnd);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    const status = Number(head.slice(9, 12));
    if (/\r\nconnection: *close/.test(head)) this.close();
    waiting?.resolve({ status, head, body });
  }

  #fail(error: Error): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    this.close();
    waiting?.reject(error);
  }

  close(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.destroy();
  }
}

/** A request that must answer `expected`; anything else throws with the start of the body. */
export async function expectStatus(
  connection: HttpConnection,
  bytes: Buffer,
  expected = 200,
): Promise<RawResponse> {
  const response = await connection.request(bytes);
  if (response.status !== expected) {
    throw new Error(`HTTP ${response.status}: ${response.body.toString('utf8', 0, 300)}`);
  }
  return response;
}
