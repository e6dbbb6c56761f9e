/** An error the gateway or the HTTP API answered with; `code` is one of `ErrorCode`. */
export class JobcastClientError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JobcastClientError';
    this.code = code;
  }
}
