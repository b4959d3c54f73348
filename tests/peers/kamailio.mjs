// Kamailio (Debian 5.6) as a service provider in the peer tests: started from one of this directory's
// configurations with its placeholders filled, on loopback (127.0.0.9), in a process group of its own, and
// stopped by the test. Used by kamailio.test.mjs (the provider's proxy, challenging our INVITEs) and
// kamailio-registrar.test.mjs (the provider's registrar, where our trunk registers).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Ua, request, status } from "../lib/sipua.mjs";

const here = dirname(fileURLToPath(import.meta.url));
if (spawnSync("sh", ["-c", "command -v kamailio"]).status !== 0) throw new Error("kamailio is not installed (npm test runs tools/setup.mjs, which installs it)");
const MPATH = ["/usr/lib/x86_64-linux-gnu/kamailio/modules/", "/usr/lib/aarch64-linux-gnu/kamailio/modules/", "/usr/lib/kamailio/modules/"]
  .find((p) => existsSync(join(p, "auth.so")));
if (!MPATH) throw new Error("kamailio's modules (auth.so) not found");

export const PROVIDER_IP = "127.0.0.9";
export const ACCOUNT = { realm: "carrier.example", user: "acme", password: "s3cret-acme" };

/**
 * Kamailio on 127.0.0.9:port with tests/peers/`file`, each @NAME@ of `fill` replaced (and @LISTEN@,
 * @MPATH@, @REALM@, @USER@, @PASSWORD@ of ACCOUNT); resolves once it answers an OPTIONS with 405.
 * { log, stop() }.
 */
export async function startKamailio(file, port, fill = {}) {
  const dir = mkdtempSync(join(tmpdir(), "sipling-kam-"));
  let cfg = readFileSync(join(here, file), "utf8");
  const all = { LISTEN: `${PROVIDER_IP}:${port}`, MPATH, REALM: ACCOUNT.realm, USER: ACCOUNT.user, PASSWORD: ACCOUNT.password, ...fill };
  for (const [k, v] of Object.entries(all)) cfg = cfg.replaceAll(`@${k}@`, String(v));
  if (/@[A-Z]+@/.test(cfg)) throw new Error(`${file}: a placeholder is left: ${cfg.match(/@[A-Z]+@/)[0]}`);
  writeFileSync(join(dir, "kamailio.cfg"), cfg);
  // its own process group: Kamailio forks workers, and one that outlives the main process (as after a
  // SIGKILL of it) would hold our pipes open and this file's process with them; stop() ends the group
  const child = spawn("kamailio", ["-f", join(dir, "kamailio.cfg"), "-DD", "-E", "-Y", dir, "-w", dir],
    { stdio: ["ignore", "pipe", "pipe"], detached: true });
  const group = (sig) => { try { process.kill(-child.pid, sig); } catch { /* ESRCH: the group is gone */ } };
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  const k = {
    get log() { return log; },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        group("SIGTERM");
        const t = setTimeout(() => group("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }
      group("SIGKILL"); // any worker left behind by the main process
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const ua = await Ua.open("127.0.0.1");
  try {
    for (let i = 0; i < 40; i++) {
      if (child.exitCode !== null) throw new Error(`kamailio exited: ${log}`);
      ua.send(request(ua, { method: "OPTIONS", ruri: `sip:${PROVIDER_IP}:${port}`, from: "sip:probe@127.0.0.1" }), port, PROVIDER_IP);
      if (status(await ua.waitFor((m) => status(m) === 405, 250)) === 405) return k;
    }
    throw new Error(`kamailio did not answer on ${PROVIDER_IP}:${port}: ${log}`);
  } catch (e) {
    await k.stop();
    throw e;
  } finally {
    ua.close();
  }
}
