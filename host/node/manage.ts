// The management API ("management": true, on metrics.listen; issue 15 item 6): JSON over HTTP, and
// `sipling ctl` (host/node/cli.mjs) is its command line.
//
//   GET    /registrations                 every binding: [{ aor, contact, expires, q, origin, source, path }]
//   GET    /registrations/AOR             the bindings of one AOR (its user part, %-escaped in the path)
//   DELETE /registrations/AOR[?contact=U] remove them (or the one contact): { removed: n }; a binding of
//                                         ours is deleted from the shared location service too
//   GET    /status                        the core's tables and pools (in use / capacity), the trunks and
//                                         registrations of ours (their last state), the location service
// Anything else is 404; a method a path does not take is 405. No authentication: metrics.listen belongs
// on a loopback or management address (the configuration's documentation says so).
import type { Binding, Bindings, SharedLocation } from "./location.js";
import { escapeAor } from "./location.js";
import type { ApiHandler } from "./metrics.js";
import type { EventRecord } from "./usage.js";
import { EventKind, Stat, STAT_NAMES } from "./numbers.js";

export interface ManageDeps {
  bindings: Bindings;
  location: () => SharedLocation | null;
  stats: () => Record<string, number> | undefined;
  board: string;
}

/** The last state of each trunk and registration of ours, from the core's events. */
export class TrunkStates {
  readonly trunks = new Map<string, { up: boolean; detail: string; since: string }>();
  readonly registrations = new Map<string, { registrar: string; state: number; detail: string; since: string }>();

  event(ev: EventRecord, wall: number): void {
    const since = new Date(wall).toISOString();
    if (ev.kind === EventKind.TrunkState) this.trunks.set(ev.text[0], { up: ev.value !== 0, detail: ev.text[3], since });
    else if (ev.kind === EventKind.TrunkReg) this.registrations.set(ev.text[0], { registrar: ev.text[1], state: ev.value, detail: ev.text[3], since });
  }
}

const view = (b: Binding) => ({ aor: b.aor, contact: b.contact, expires: b.expires, q: b.q < 0 ? null : b.q / 1000, origin: b.origin, source: b.source === "-" ? null : b.source, path: b.path === "-" ? null : b.path });

export function managementApi(deps: ManageDeps, trunks: TrunkStates): ApiHandler {
  return (method, path, query) => {
    if (path === "/status") {
      if (method !== "GET" && method !== "HEAD") return { status: 405, body: { error: "GET only" } };
      const s = deps.stats() ?? {};
      const v = (k: Stat) => s[STAT_NAMES[k]!] ?? null;
      const pair = (used: Stat, cap: Stat) => ({ inUse: v(used), capacity: v(cap) });
      const loc = deps.location();
      return {
        status: 200,
        body: {
          board: deps.board,
          tables: {
            transactions: pair(Stat.TxnInUse, Stat.TxnCapacity), registrations: pair(Stat.BindingsInUse, Stat.BindingCapacity),
            aors: pair(Stat.AorsInUse, Stat.AorCapacity), messagePool: pair(Stat.MsgPoolInUse, Stat.MsgPoolBlocks),
            registrarPool: pair(Stat.RegPoolInUse, Stat.RegPoolBlocks), dialogs: { inUse: v(Stat.DialogsInUse) },
            relayLegs: pair(Stat.RelayLegsInUse, Stat.RelayLegCapacity),
          },
          trunks: Object.fromEntries(trunks.trunks),
          registrationsOfOurs: Object.fromEntries(trunks.registrations),
          location: loc ? { instance: loc.instance, connected: loc.connected, ...loc.stats } : null,
        },
      };
    }
    if (path !== "/registrations" && !path.startsWith("/registrations/")) return null;
    if (!deps.bindings.available) return { status: 501, body: { error: "this core has no location service (boards server and b2bua have it)" } };
    if (path === "/registrations") {
      if (method !== "GET" && method !== "HEAD") return { status: 405, body: { error: "GET only" } };
      return { status: 200, body: deps.bindings.all().map(view) };
    }
    let key: Buffer;
    try {
      key = Buffer.from(decodeURIComponent(path.slice("/registrations/".length)), "utf8");
    } catch {
      return { status: 400, body: { error: "the AOR in the path is not %-escaped UTF-8" } };
    }
    if (key.length === 0) return { status: 400, body: { error: "no AOR" } };
    if (method === "GET" || method === "HEAD") {
      const list = deps.bindings.of(key);
      return list.length ? { status: 200, body: list.map(view) } : { status: 404, body: { error: "not registered" } };
    }
    if (method === "DELETE") {
      const contact = query.get("contact") ?? undefined;
      if (contact !== undefined && !/^[^\s]+$/.test(contact)) return { status: 400, body: { error: "contact: expected a URI" } };
      // a binding of ours leaves the shared location service by its reg-remove event (host.ts); a shared
      // copy goes here only (the instance holding the registration publishes it again at its refresh)
      const n = deps.bindings.remove(escapeAor(key), contact);
      if (n < 0) return { status: 400, body: { error: "malformed AOR or contact" } };
      return { status: n > 0 ? 200 : 404, body: { removed: n } };
    }
    return { status: 405, body: { error: "GET or DELETE" } };
  };
}
