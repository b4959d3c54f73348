// What the media relay tests of the hosts share (tests/hosts/media-relay.test.mjs, proxy-media-relay):
// a phone's one-stream SDP offer, a SIP message's body and its audio port, a G.711 RTP packet, and
// whether a UDP port is bound on an address.
import { readFileSync } from "node:fs";

/** A PCMU offer at addr:port (a phone's). */
export const phoneSdp = (port, addr = "127.0.0.1") =>
  `v=0\r\no=phone 1 1 IN IP4 ${addr}\r\ns=-\r\nc=IN IP4 ${addr}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;

/** The body of SIP message text m. */
export const bodyOf = (m) => m.slice(m.indexOf("\r\n\r\n") + 4);

/** The port of the first m=audio line of SDP text, NaN when none (a check on it then fails). */
export const mPort = (body) => +(/^m=audio (\d+) /m.exec(body)?.[1] ?? NaN);

/** RTP packet `seq` as a phone sends G.711 at 20 ms: 172 bytes (12 of header, 160 of payload filled
 * with seq's low byte), SSRC 0x51b11a6. */
export function rtpPacket(seq) {
  const b = Buffer.alloc(172);
  b[0] = 0x80;
  b[1] = 0; // PCMU
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(seq * 160, 4);
  b.writeUInt32BE(0x51b11a6, 8);
  b.fill(seq & 0xff, 12);
  return b;
}

/** Whether a UDP socket of this machine is bound on IPv4 `addr`:`port` (Linux /proc/net/udp: the local
 * address as little-endian hex, the port as hex). */
export function boundUdp(addr, port) {
  const hex = addr.split(".").map((b) => Number(b).toString(16).padStart(2, "0").toUpperCase()).reverse().join("");
  const want = `${hex}:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return readFileSync("/proc/net/udp", "utf8").split("\n").some((l) => l.trim().split(/\s+/)[1] === want);
}
