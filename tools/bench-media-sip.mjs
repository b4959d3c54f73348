// The benchmark subjects that are whole sipling servers (tools/bench-media.mjs): the Node host or the
// native host, board b2bua, in B2BUA mode with the media relay on its trunk side, each call set up the
// way a real one is: a phone (a socket of this file) registers and sends INVITE with SDP naming its
// RTP port; the provider (another socket, at 127.0.0.9) answers 200 with SDP naming its own; the
// server rewrites both (its relay's address and ports) and tells its relay which ports to forward. The
// rtpload ports of call i are then [phone's port, the relay port in the 200, provider's port, the relay
// port in the INVITE the provider got]: the packets go through the real control path's decisions.
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const TRUNK_IP = "127.0.0.9";

const sdp = (port, id) =>
  ["v=0", `o=- ${id} 1 IN IP4 127.0.0.1`, "s=-", "c=IN IP4 127.0.0.1", "t=0 0", `m=audio ${port} RTP/AVP 0`, "a=rtpmap:0 PCMU/8000", "a=sendrecv", ""].join("\r\n");
const mPort = (text) => Number(/^m=audio (\d+) /m.exec(text)?.[1] ?? NaN);
const hdr = (text, name) => new RegExp(`^${name}:\\s*(.*)$`, "mi").exec(text)?.[1]?.trim();

async function udp(address) {
  const s = createSocket("udp4");
  await new Promise((res, rej) => { s.once("error", rej); s.bind(0, address, res); });
  return s;
}

/**
 * A subject: `host` "node" or "native"; `sipPort` its SIP port, `relayMin` the first port of its relay
 * range; `partyPort(i)`: [A's RTP port, B's RTP port] of call i (rtpload's).
 */
export function sipSubject({ name, host, root, out, sipPort, relayMin, partyPort }) {
  return {
    name,
    async start(n) {
      const provider = await udp(TRUNK_IP);
      const phone = await udp("127.0.0.1");
      const config = {
        board: "b2bua", mode: "b2bua", listen: [`udp:127.0.0.1:${sipPort}`], domains: ["127.0.0.1"], logLevel: "info",
        overloadControl: false,
        sides: [
          { name: "office", role: "registrar", route: "carrier" },
          { name: "carrier", role: "trunk", address: `${TRUNK_IP}:${provider.address().port}`, route: "office", mediaRelay: true },
        ],
        mediaRelay: { addresses: ["127.0.0.1"], portMin: relayMin, portMax: relayMin + 4 * n + 3, idle: 0, holdIdle: 0 },
      };
      const file = join(out, `${name}-config.json`);
      writeFileSync(file, JSON.stringify(config));
      const argv = host === "node" ? [process.execPath, join(root, "host/node/cli.mjs"), "--config", file]
        : [join(root, "build/b2bua/sipling"), "--config", file];
      const proc = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SIPLING_NO_BUILD: "1" } });
      let log = "";
      proc.stdout.on("data", (d) => { log += d; if (log.length > 100_000) log = log.slice(-50_000); });
      proc.stderr.on("data", (d) => (log += d));
      const stop = () => new Promise((res) => {
        provider.close();
        phone.close();
        if (proc.exitCode !== null) return res();
        proc.once("exit", () => res());
        proc.kill("SIGKILL");
      });
      try {
        for (let t = 0; t < 100 && !/"msg":"running"/.test(log); t++) {
          if (proc.exitCode !== null) throw new Error(`${name} exited (${proc.exitCode}): ${log.slice(-2000)}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        if (!/"msg":"running"/.test(log)) throw new Error(`${name}: not running after 5 s: ${log.slice(-2000)}`);
        // the provider: 200 with its SDP to each INVITE (B's RTP port by the number called), 200 to BYE
        const offers = new Map(); // call index -> the relay port in the INVITE it got
        provider.on("message", (m, r) => {
          const text = m.toString("latin1");
          if (!text.startsWith("INVITE ")) return;
          const i = Number(/^INVITE sip:(\d+)@/.exec(text)?.[1] ?? -1);
          offers.set(i, mPort(text.slice(text.indexOf("\r\n\r\n") + 4)));
          const body = sdp(partyPort(i)[1], i);
          const via = text.split("\r\n").filter((l) => /^via:/i.test(l));
          const resp = ["SIP/2.0 200 OK", ...via, `From: ${hdr(text, "From")}`, `To: ${hdr(text, "To")};tag=p${i}`, `Call-ID: ${hdr(text, "Call-ID")}`,
            `CSeq: ${hdr(text, "CSeq")}`, `Contact: <sip:${TRUNK_IP}:${provider.address().port}>`, "Content-Type: application/sdp",
            `Content-Length: ${body.length}`, "", body].join("\r\n");
          provider.send(resp, r.port, r.address);
        });
        // the phone: registers, then calls 0 .. n-1 (the number is the call's index)
        const waiting = new Map();
        phone.on("message", (m) => {
          const text = m.toString("latin1");
          const cid = hdr(text, "Call-ID");
          const st = Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1] ?? 0);
          if (st >= 200 && waiting.has(cid)) { waiting.get(cid)(text); waiting.delete(cid); }
        });
        const ask = (text, cid) => new Promise((res, rej) => {
          const t = setTimeout(() => { waiting.delete(cid); rej(new Error(`${name}: no final response to ${text.split("\r\n")[0]}`)); }, 5000);
          waiting.set(cid, (r) => { clearTimeout(t); res(r); });
          phone.send(text, sipPort, "127.0.0.1");
        });
        const me = `127.0.0.1:${phone.address().port}`;
        const req = (method, ruri, cid, extra, body = "") => [`${method} ${ruri} SIP/2.0`, `Via: SIP/2.0/UDP ${me};branch=z9hG4bK${cid}${method}`, "Max-Forwards: 70",
          `From: <sip:alice@127.0.0.1>;tag=a${cid}`, `To: <${method === "REGISTER" ? "sip:alice@127.0.0.1" : ruri.replace(/:\d+$/, "")}>`, `Call-ID: ${cid}`, `CSeq: 1 ${method}`, `Contact: <sip:alice@${me}>`,
          ...extra, `Content-Length: ${body.length}`, "", body].join("\r\n");
        const reg = await ask(req("REGISTER", "sip:127.0.0.1", "reg1", ["Expires: 3600"]), "reg1");
        if (!reg.startsWith("SIP/2.0 200")) throw new Error(`${name}: REGISTER got ${reg.split("\r\n")[0]}`);
        const ports = [];
        const one = async (i) => {
          const cid = `bench${i}x${Date.now()}`;
          const [a, b] = partyPort(i);
          const ok = await ask(req("INVITE", `sip:${i}@127.0.0.1:${sipPort}`, cid, ["Content-Type: application/sdp"], sdp(a, i)), cid);
          if (!ok.startsWith("SIP/2.0 200")) throw new Error(`${name}: call ${i} got ${ok.split("\r\n")[0]}`);
          const toTag = /;tag=([^;>\s]+)/.exec(hdr(ok, "To"))[1];
          phone.send(req("ACK", `sip:127.0.0.1:${sipPort}`, cid, []).replace(/^To: (.*)$/m, `To: $1;tag=${toTag}`), sipPort, "127.0.0.1");
          const relayA = mPort(ok.slice(ok.indexOf("\r\n\r\n") + 4));
          ports[i] = [a, relayA, b, offers.get(i)];
        };
        for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: Math.min(20, n - i) }, (_, k) => one(i + k)));
        if (ports.some((p) => p.some((x) => !Number.isInteger(x)))) throw new Error(`${name}: a call without relay ports`);
        return { pid: proc.pid, ports, stop };
      } catch (e) {
        await stop();
        throw e;
      }
    },
  };
}
