// SIP over WebSocket (RFC 7118) for the Node host: one HTTP server (ws:) or HTTPS server (wss:) per
// listen address, upgraded by the `ws` package. What this file decides:
//
//   - the handshake must offer the `sip` subprotocol (RFC 7118 §4); one without it is refused (HTTP
//     400 before the upgrade), as is any request that is not a WebSocket upgrade (426);
//   - each WebSocket message, text or binary, is one whole SIP message (RFC 7118 §5): the host hands it
//     to the core like a datagram carrying the connection's id, so responses and requests to a phone
//     registered over it go back on the same WebSocket (the connection table of host.ts, as for TCP);
//   - messages larger than the core's RX buffer close the WebSocket with 1009 (the `ws` maxPayload);
//   - what we send goes as a text frame when it is UTF-8 (every browser stack reads those), otherwise
//     binary; a close is polite (a close frame), then forced after WS_CLOSE_GRACE_MS.
//
// host.ts owns the connections (ids, bounds, eviction, the core calls); this file only adapts a
// WebSocket to the few operations a connection needs (WsLink) and binds the servers.
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import type tls from "node:tls";
import { readFileSync } from "node:fs";
import { isUtf8 } from "node:buffer";
import { WebSocketServer, type WebSocket } from "ws";

/** How long a WebSocket we close may take to answer our close frame before its socket is destroyed. */
const WS_CLOSE_GRACE_MS = 2000;
/** The subprotocol RFC 7118 §4 registers; a handshake must offer it. */
export const SIP_SUBPROTOCOL = "sip";

/** PEM files of a wss listener (tls.certificate, tls.key, tls.ca). */
export interface TlsFiles {
  certificate?: string;
  key?: string;
  ca?: string;
}

/** A WebSocket seen as a connection: what host.ts calls on a connection's transport. */
export class WsLink {
  private closing: NodeJS.Timeout | null = null;
  constructor(readonly ws: WebSocket) {}

  /** Sends one SIP message as one WebSocket message. */
  write(buf: Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(buf, { binary: !isUtf8(buf) });
  }

  /** Bytes queued toward the peer (the TCP backlog bound applies to them). */
  get writableLength(): number {
    return this.ws.bufferedAmount;
  }

  /** A polite close (a close frame with `code`), then the socket destroyed if the peer does not answer. */
  destroy(code = 1000): void {
    if (this.closing) return;
    try {
      this.ws.close(code);
    } catch {
      this.ws.terminate();
      return;
    }
    this.closing = setTimeout(() => this.ws.terminate(), WS_CLOSE_GRACE_MS);
    this.closing.unref();
    this.ws.once("close", () => {
      if (this.closing) clearTimeout(this.closing);
    });
  }
}

/** A PEM file's bytes; an error names the key and the file (the listen fails to start with it). */
function pem(key: string, path: string | undefined): Buffer {
  if (path === undefined) throw new Error(`${key} is not set`); // the configuration check names it first
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${key} ${JSON.stringify(path)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The remote address of an upgraded request's socket. */
export function remoteOf(sock: net.Socket): { address: string; port: number } {
  return { address: sock.remoteAddress ?? "", port: sock.remotePort ?? 0 };
}

/** A bound ws/wss listener: its port, the largest message it takes, its servers to close at stop. */
export interface WsListener {
  port: number;
  /** Messages above `bytes` close the WebSocket with 1009 (the core's RX size, known once it starts). */
  setMaxMessage(bytes: number): void;
  close(): void;
}

/**
 * Binds an HTTP(S) server on host:port and upgrades WebSocket handshakes that offer `sip`; each one
 * accepted is handed to `onSocket`. Rejects when the port cannot be bound or a PEM file cannot be read.
 * `clients` (wss): whether a client certificate is asked for, and why a client is refused (tls.peers,
 * tls.verifyClient: host/node/tls.ts), checked once its TLS handshake is done, before any HTTP.
 */
export function bindWs(
  secure: boolean, host: string, port: number, tls: TlsFiles, maxPayload: number,
  onSocket: (ws: WebSocket, sock: net.Socket) => void,
  onError: (level: "warn" | "debug", msg: string, fields: Record<string, unknown>) => void,
  clients?: { requestCert: boolean; refuse: (s: tls.TLSSocket) => string | undefined },
): Promise<WsListener> {
  let server: http.Server | https.Server;
  if (secure) {
    const opts: https.ServerOptions = { cert: pem("tls.certificate", tls.certificate), key: pem("tls.key", tls.key) };
    if (tls.ca) opts.ca = pem("tls.ca", tls.ca);
    if (clients?.requestCert) Object.assign(opts, { requestCert: true, rejectUnauthorized: false });
    try {
      server = https.createServer(opts);
    } catch (e) {
      throw new Error(`tls.certificate/tls.key: ${(e as Error).message}`);
    }
  } else server = http.createServer();
  // a plain HTTP request is not ours: 426 Upgrade Required, and the connection closed
  server.on("request", (_req, res) => {
    res.writeHead(426, { "Content-Type": "text/plain", Connection: "close", Upgrade: "websocket" });
    res.end("SIP over WebSocket (RFC 7118): upgrade with Sec-WebSocket-Protocol: sip\n");
  });
  // a peer's failed handshake is the peer's problem: logged at debug (a scanner must not fill the log)
  server.on("clientError", (e, sock) => {
    onError("debug", "ws client error", { error: e.message });
    sock.destroy();
  });
  if (secure) server.on("tlsClientError", (e) => onError("debug", "wss tls handshake failed", { error: e.message }));
  // (after the HTTP server's own listener: a socket destroyed here has sent no request yet)
  if (secure && clients)
    server.on("secureConnection", (s: tls.TLSSocket) => {
      const why = clients.refuse(s);
      if (why === undefined) return;
      onError("warn", "tls handshake failed", { peer: `wss:${s.remoteAddress}:${s.remotePort}`, reason: why });
      s.destroy();
    });
  const wss = new WebSocketServer({
    server, maxPayload,
    perMessageDeflate: false, // RFC 7118 needs none, and it would cost a zlib context per connection
    handleProtocols: (protocols) => (protocols.has(SIP_SUBPROTOCOL) ? SIP_SUBPROTOCOL : false),
    verifyClient: (info, cb) => {
      const offered = String(info.req.headers["sec-websocket-protocol"] ?? "").split(",").map((s) => s.trim());
      if (offered.includes(SIP_SUBPROTOCOL)) cb(true);
      else cb(false, 400, "the sip subprotocol is required (RFC 7118)");
    },
  });
  wss.on("connection", (ws, req) => onSocket(ws, req.socket as net.Socket));
  wss.on("error", (e) => onError("warn", "ws server error", { error: e.message }));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off("error", reject);
      server.on("error", (e) => onError("warn", "ws listener error", { error: e.message }));
      resolve({
        port: (server.address() as net.AddressInfo).port,
        // read by `ws` at each upgrade (WebSocketServer.options): connections accepted later get it
        setMaxMessage: (bytes) => { wss.options.maxPayload = bytes; },
        close: () => {
          wss.close();
          server.close();
          server.closeAllConnections?.();
        },
      });
    });
  });
}
