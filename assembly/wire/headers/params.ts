// The header-parameter list after a decoded value, one walk for every decoder that has one (Via,
// name-addr, Content-Type): `*( SEMI generic-param )` with LWS around each `;`, up to the end of the
// value. Each parameter is scanned by scanHeaderParam (scan.ts) and handed to its owner's decoder.
//
// Input contract: as for the decoders (one value or list element, [q, end) inside it); reads stay in
// [q, end), nothing allocates, nothing traps.

import { Ch } from "../../util/chars";
import { MAX_PARAMS } from "../../config";
import { ParamSpan, scanHeaderParam, skipLws } from "../scan";
import { ViaRepr, viaParam } from "./via";
import { NameAddrRepr, nameAddrParam } from "./nameaddr";

/** Whose parameters: the three name-addr kinds (NameAddrKind's numbers), a Via, a Content-Type. */
export const enum ParamOwner { FromTo = 0, Contact = 1, Route = 2, Via = 3, ContentType = 4 }

// Scratch for the walk (the core is single-threaded and decoders do not re-enter).
const PARAM = new ParamSpan();

/**
 * The parameters after a value that ends at `q`: nothing but LWS up to `end`, or a `;` that starts the
 * list. The list after that first `;` is recorded at `span` (the owner's `params: usize` and the
 * `paramsLen: u32` declared just after it); each parameter goes to the owner's decoder (a Content-Type
 * parameter must have a value). False on a syntax error (an empty parameter too: RFC 4475 badinv01),
 * more than MAX_PARAMS parameters, or a parameter the decoder refuses.
 */
export function walkParams(q: usize, end: usize, owner: ParamOwner, out: usize, span: usize): bool {
  let p = skipLws(q, end);
  if (p == end) return true;
  if (load<u8>(p) != Ch.SEMI) return false; // p < end; trailing garbage
  store<usize>(span, p + 1);
  store<u32>(span + sizeof<usize>(), <u32>(end - p - 1));
  let count = 0;
  while (true) {
    // p < end and load<u8>(p) == ';' here
    q = scanHeaderParam(p + 1, end, PARAM);
    if (q == 0 || ++count > MAX_PARAMS) return false;
    let ok: bool;
    if (owner == ParamOwner.Via) ok = viaParam(PARAM, changetype<ViaRepr>(out));
    else if (owner == ParamOwner.ContentType) ok = PARAM.hasValue;
    else ok = nameAddrParam(PARAM, changetype<NameAddrRepr>(out), <i32>owner);
    if (!ok) return false;
    p = skipLws(q, end);
    if (p == end) return true;
    if (load<u8>(p) != Ch.SEMI) return false; // p < end
  }
  return false;
}
