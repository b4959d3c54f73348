// The Node host's Prometheus endpoint ("metrics.listen"): node:http, answering GET (or HEAD) /metrics with
// the text exposition format 0.0.4, anything else 404, a request that is not HTTP 400; one request per
// connection, closed after the answer. Bounded as host/c/metrics.c is: MAX_CLIENTS connections at once
// (a further one closes the oldest), REQUEST_MAX bytes of request head (beyond: 400), TIMEOUT_MS for a
// whole exchange (a client that sends nothing, or does not read, is destroyed then). The event loop
// never waits on a client. The families and their help text: numbers.ts METRICS (host/shared/abi.json).
import http from "node:http";
import type net from "node:net";
import { METRICS, EVENTS, VERSION, HISTOGRAMS, HIST_BOUNDS_MS } from "./numbers.js";

export const MAX_CLIENTS = 8;
export const REQUEST_MAX = 4096;
export const TIMEOUT_MS = 5000;

const PLAIN = "text/plain; charset=utf-8";
const EXPOSITION = "text/plain; version=0.0.4; charset=utf-8";
const BAD = "bad request\n";

const labelValue = (s: string) => s.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));

/**
 * The exposition: the families of METRICS in order, samples from the stats line's fields (a field not in
 * `fields`, or negative (-1: not in this core), is left out, a family without samples too), `events`
 * by kind as counted by the host, build_info with the host's name and board, uptime in seconds.
 */
export function exposition(fields: Record<string, number>, events: ArrayLike<number>, host: string, board: string, uptimeS: number,
  hist: (series: number, slot: number) => number = () => -1): string {
  const o: string[] = [];
  const head = (f: (typeof METRICS)[number]) => o.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
  const sample = (name: string, label: string, lv: string, v: number) =>
    o.push(`${name}${label ? `{${label}="${labelValue(lv)}"}` : ""} ${v}`);
  for (const f of METRICS) {
    if (f.special === "build_info") {
      head(f);
      o.push(`${f.name}{version="${labelValue(VERSION)}",board="${labelValue(board)}",host="${labelValue(host)}"} 1`);
    } else if (f.special === "uptime") {
      head(f);
      sample(f.name, "", "", Math.trunc(uptimeS * 1000) / 1000);
    } else if (f.special === "events") {
      head(f);
      for (let k = 1; k < EVENTS.length; k++) sample(f.name, f.label, EVENTS[k]!.name, events[k] ?? 0);
    } else {
      let any = false;
      for (const [lv, field] of f.samples) {
        const v = fields[field];
        if (typeof v !== "number" || v < 0) continue;
        if (!any) head(f);
        any = true;
        sample(f.name, f.label, lv, v);
      }
    }
  }
  // the core's response-time histograms (sip_hist): cumulative buckets in seconds, _sum, _count; a
  // family whose series the core does not keep (-1) is left out
  const nb = HIST_BOUNDS_MS.length;
  for (const f of HISTOGRAMS) {
    if (f.series.some(([, id]) => hist(id, 0) < 0)) continue;
    o.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} histogram`);
    for (const [lv, id] of f.series) {
      const l = `${f.label}="${labelValue(lv)}"`;
      let cum = 0;
      for (let i = 0; i < nb; i++) {
        cum += hist(id, i);
        o.push(`${f.name}_bucket{${l},le="${HIST_BOUNDS_MS[i]! / 1000}"} ${cum}`);
      }
      cum += hist(id, nb);
      o.push(`${f.name}_bucket{${l},le="+Inf"} ${cum}`, `${f.name}_sum{${l}} ${hist(id, nb + 1) / 1000}`, `${f.name}_count{${l}} ${cum}`);
    }
  }
  return o.join("\n") + "\n";
}

/** The management API's answer to a request, or null when the path is not one of its. */
export type ApiHandler = (method: string, path: string, query: URLSearchParams) => { status: number; body: unknown } | null;

export class MetricsServer {
  private readonly server: http.Server;
  /** open connections, oldest first (a Set iterates in insertion order) */
  private readonly socks = new Set<net.Socket>();

  /**
   * `api`: the management API (host/node/manage.ts), asked first for every request other than GET
   * /metrics; it answers a status and a JSON value, or null (not its path: 404).
   */
  constructor(private readonly body: () => string, private readonly api?: ApiHandler) {
    this.server = http.createServer({ maxHeaderSize: REQUEST_MAX, requestTimeout: TIMEOUT_MS, headersTimeout: TIMEOUT_MS }, (req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const path = url.pathname;
      const head = req.method === "HEAD";
      if ((req.method === "GET" || head) && path === "/metrics") {
        const text = this.body();
        res.writeHead(200, { "Content-Type": EXPOSITION, "Content-Length": Buffer.byteLength(text), Connection: "close" });
        res.end(head ? undefined : text);
        return;
      }
      const answer = this.api?.(req.method ?? "", path, url.searchParams);
      if (answer) {
        const text = JSON.stringify(answer.body) + "\n";
        res.writeHead(answer.status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), Connection: "close" });
        res.end(head ? undefined : text);
        return;
      }
      const nf = "not found\n";
      res.writeHead(404, { "Content-Type": PLAIN, "Content-Length": nf.length, Connection: "close" });
      res.end(head ? undefined : nf);
    });
    this.server.on("connection", (sock: net.Socket) => {
      this.socks.add(sock);
      const deadline = setTimeout(() => sock.destroy(), TIMEOUT_MS);
      deadline.unref();
      sock.once("close", () => {
        clearTimeout(deadline);
        this.socks.delete(sock);
      });
      sock.on("error", () => sock.destroy());
      if (this.socks.size > MAX_CLIENTS) this.socks.values().next().value?.destroy(); // the oldest makes room
    });
    // a request line or head node:http cannot parse (or too large): 400, as the native host answers
    this.server.on("clientError", (_err: Error, sock: net.Socket) => {
      if (sock.writable && !sock.writableEnded)
        sock.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: ${PLAIN}\r\nContent-Length: ${BAD.length}\r\nConnection: close\r\n\r\n${BAD}`);
      else sock.destroy();
    });
  }

  /** Binds; resolves with the bound address as "127.0.0.1:9100" or "[::1]:9100"; rejects with the error. */
  listen(addr: string, family: 4 | 6, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host: addr, port, ipv6Only: family === 6, exclusive: true }, () => {
        this.server.off("error", reject);
        this.server.on("error", () => {}); // accept errors (EMFILE...) are retried by node:net
        const a = this.server.address() as net.AddressInfo;
        resolve(family === 6 ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
      });
    });
  }

  /** Stops listening and destroys every connection. */
  close(): void {
    this.server.close();
    for (const s of this.socks) s.destroy();
    this.socks.clear();
  }
}
