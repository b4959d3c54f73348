// Registrar layer (RFC 3261 §10.3 with RFC 3327 Path and RFC 3581 source recording): the location
// service of sipling. Contract: `handleRegister` takes a REGISTER that wire/validate accepted and whose
// Request-URI names one of our domains (the proxy checked §10.3 step 1), updates the binding tables
// atomically (every check passes before anything changes) and returns the status plus the extra header
// lines of the response; `registrarLookup` gives the proxy the targets of an AOR; `registrarTick` /
// `registrarNextDeadline` drive expiry like every other timer of the core (now is always an argument).
// Depends on wire/, util/, net/, events.ts only. Fixed memory: see table.ts for the layout and the
// bytes per AOR / binding; nothing allocates after start-up and nothing traps on network input.
//
//   table.ts     AOR hash, AOR and binding records, string pool, expiry heap, reset, tick, stats
//   register.ts  REGISTER processing (§10.3 steps 5-8) and the 200 / 423 / 503 header lines
//   lookup.ts    TargetSet and registrarLookup (best q first)
//   gin.ts       RFC 6140 number blocks: a number of a block to its account's template contacts
//   location.ts  bindings as text lines for the host (a shared location service, the management API)

export {
  RegistrarConfig, regConfig, registrarReset, registrarTick, registrarExpired, registrarNextDeadline,
  registrarAors, registrarBindings, registrarPoolUsed, registrarPoolBlocks, registrarFlowClosed,
  registrarSetLimit, registrarBindingLimit, registrarAorLimit,
} from "./table";
export { RegResult, regResult, handleRegister } from "./register";
export { TargetSet, targets, registrarLookup, bindingTarget } from "./lookup";
export { LOC, LOC_CAP, locNext, locFirstOf, locSibling, locRead, locPut, locRemove } from "./location";
export { ginBlockAdd, ginBlocks, ginLookup, ginReset, GIN_BLOCKS } from "./gin";
