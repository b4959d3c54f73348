// Probe build entry (build/<board>/probe.wasm): the release ABI plus test-only exports.
export * from "../host/abi";
export * from "./probe_view";
export * from "./probe_uri";
export * from "./probe_headers";
export * from "./probe_registrar";
export * from "./probe_auth";
export * from "./probe_policy";
export * from "./probe_ua";
export * from "./probe_uac";
export * from "./probe_uas";
export * from "./probe_b2bua";
export * from "./probe_registrant";
