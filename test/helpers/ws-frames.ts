/**
 * Reads WebSocket frames (RFC 6455) out of one direction of a TCP stream, for a test proxy
 * that must act at a chosen message: after the HTTP upgrade, it yields each frame's unmasked
 * payload as text with the byte offsets (in this direction's stream) where the frame starts and ends.
 */
export class WsFrameReader {
  #buffer = Buffer.alloc(0);
  #consumed = 0;
  #upgraded = false;
  /** Byte offset where the HTTP request or response head ends (after `\r\n\r\n`), once seen. */
  headEnd: number | null = null;
  /** The first line of the HTTP head, once seen. */
  statusLine = '';

  /** Feeds `chunk`; returns the frames it completed. */
  push(chunk: Buffer): { text: string; start: number; end: number }[] {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    if (!this.#upgraded) {
      const at = this.#buffer.indexOf('\r\n\r\n');
      if (at < 0) return [];
      this.statusLine = this.#buffer.subarray(0, this.#buffer.indexOf('\r\n')).toString();
      this.#upgraded = true;
      this.headEnd = this.#consumed + at + 4;
      this.#drop(at + 4);
    }
    const frames: { text: string; start: number; end: number }[] = [];
    for (;;) {
      const frame = this.#frame();
      if (!frame) return frames;
      frames.push(frame);
    }
  }

  #frame(): { text: string; start: number; end: number } | null {
    const b = this.#buffer;
    if (b.length < 2) return null;
    const masked = (b[1]! & 0x80) !== 0;
    let length = b[1]! & 0x7f;
    let at = 2;
    if (length === 126) {
      if (b.length < 4) return null;
      length = b.readUInt16BE(2);
      at = 4;
    } else if (length === 127) {
      if (b.length < 10) return null;
      length = Number(b.readBigUInt64BE(2));
      at = 10;
    }
    const mask = masked ? b.subarray(at, at + 4) : null;
    if (masked) at += 4;
    if (b.length < at + length) return null;
    const payload = Buffer.from(b.subarray(at, at + length));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
    const start = this.#consumed;
    this.#drop(at + length);
    return { text: payload.toString(), start, end: this.#consumed };
  }

  #drop(n: number): void {
    this.#buffer = this.#buffer.subarray(n);
    this.#consumed += n;
  }
}
