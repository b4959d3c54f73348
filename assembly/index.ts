// sipling core entry. The only exports that reach the wasm boundary are those of host/abi.ts.
export * from "./host/abi";
