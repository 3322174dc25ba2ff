/**
 * The server side of a WebSocket, just enough for the Kubernetes exec protocol (RFC 6455): the handshake on an HTTP
 * upgrade, unmasked binary frames out (any length), and the client's close frame in. Used by the fake API of the
 * contract tests (test/helpers/fake-kube-api.ts) and by the lab twin's API server (test/twin/api/server.ts).
 *
 * Exec channels (v4.channel.k8s.io and v5): one byte of stream number, then data; 1 stdout, 2 stderr, 3 the V1Status.
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The subprotocols the server speaks, best first; the client's offer decides among them. */
export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

/** The subprotocol to answer with: the first of `ours` the client offered, or null. */
export function pickProtocol(req: http.IncomingMessage, ours: readonly string[] = EXEC_PROTOCOLS): string | null {
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return ours.find((p) => offered.includes(p)) ?? null;
}

/** Answers a non-upgrade HTTP error on the raw socket (before the handshake). */
export function rejectUpgrade(socket: Duplex, code: number, statusText: string, body: unknown): void {
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${code} ${statusText}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

export class ServerWebSocket {
  private closed = false;
  private readonly closeListeners: (() => void)[] = [];
  private buf = Buffer.alloc(0);

  /** Completes the handshake with `protocol` and returns the session. */
  static accept(req: http.IncomingMessage, socket: Duplex, protocol: string): ServerWebSocket {
    const key = String(req.headers['sec-websocket-key'] ?? '');
    const accept = createHash('sha1').update(`${key}${GUID}`).digest('base64');
    socket.write(
      [
        'HTTP/1.1 101 Switching Protocols',
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Accept: ${accept}`,
        `Sec-WebSocket-Protocol: ${protocol}`,
        '',
        '',
      ].join('\r\n'),
    );
    return new ServerWebSocket(socket, protocol);
  }

  constructor(
    private readonly socket: Duplex,
    readonly protocol: string,
  ) {
    socket.on('error', () => this.gone());
    socket.on('close', () => this.gone());
    socket.on('data', (d: Buffer) => this.read(d));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Called once when the client closes or the connection drops. */
  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.closeListeners.push(fn);
  }

  private gone(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fn of this.closeListeners.splice(0)) fn();
  }

  /** Reads the client's frames; only a close frame matters here (stdin is not offered by the harness). */
  private read(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 2) {
      const b0 = this.buf[0] as number;
      const b1 = this.buf[1] as number;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (b1 & 0x80) off += 4;
      if (this.buf.length < off + len) return;
      this.buf = this.buf.subarray(off + len);
      if ((b0 & 0x0f) === 0x8) {
        this.close();
        return;
      }
    }
  }

  private frame(opcode: number, payload: Buffer): void {
    if (this.closed) return;
    const len = payload.length;
    let header: Buffer;
    if (len < 126) header = Buffer.from([0x80 | opcode, len]);
    else if (len < 65536) {
      header = Buffer.alloc(4);
      header[0] = 0x80 | opcode;
      header[1] = 126;
      header.writeUInt16BE(len, 2);
    } else {
      header = Buffer.alloc(10);
      header[0] = 0x80 | opcode;
      header[1] = 127;
      header.writeBigUInt64BE(BigInt(len), 2);
    }
    this.socket.write(Buffer.concat([header, payload]));
  }

  /** A binary message on an exec channel (1 stdout, 2 stderr, 3 status). */
  channel(stream: number, data: string | Buffer): void {
    this.frame(0x2, Buffer.concat([Buffer.from([stream]), typeof data === 'string' ? Buffer.from(data, 'utf8') : data]));
  }

  close(): void {
    if (this.closed) return;
    this.frame(0x8, Buffer.from([0x03, 0xe8]));
    this.socket.end();
    this.gone();
  }
}
