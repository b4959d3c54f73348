// The transaction users (TUs, RFC 3261 §17: the layer above the transaction layer) of this core. Every
// transaction record carries its owner (txn/table.ts TxnRec.owner, a byte the transaction layer stores
// and never reads) and the owner's own handle (TxnRec.user); host/dispatch.ts hands each response and
// each timer to the record's owner, so more than one TU can hold transactions at once.

export const enum Owner {
  /** Not owned (a record made by a unit test of the transaction layer alone). */
  None = 0,
  /** The proxy with its registrar (proxy/). */
  Proxy = 1,
  /** A user agent core: a B2BUA call leg, an OPTIONS ping (dialog/). */
  UserAgent = 2,
  /** A client registration toward a provider (registrant). */
  Registrant = 3,
  /** A trunk's OPTIONS ping timer (b2bua/call.ts b2buaPing; its transactions are the user agent's). */
  Monitor = 4,
}
