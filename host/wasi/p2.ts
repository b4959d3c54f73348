// The WASI 0.2 (preview 2) imports of the wasmtime build (node tools/wasi.mjs --p2), in the canonical
// ABI's core signatures for the world in wit/world.wit (interfaces at 0.2.12, deps/ unchanged): handles
// are i32, u64 is i64, results and records larger than one value come back through a return area (the
// last parameter). Lists and strings the runtime returns are written where cabi_realloc (below) says.
//
// cabi_realloc is a bump allocator over one static area (BUMP_CAP bytes), reset by bumpReset() before
// each call that returns a list: nothing is allocated from the heap, and what a call returned is valid
// until the next reset. A request that does not fit traps (unreachable): every call that can return a
// list asks for a bounded amount (receive 1 datagram, read 16 KiB, poll at most 65 pollables), except
// get-arguments, which the 32 KiB + 1024-argument bound of the command line keeps inside the area.
//
// Only the WASI host built with SIP_WASI_P2=1 imports these (the WasmEdge build never references them).

// ---- the bump area behind cabi_realloc ---------------------------------------------------------

export const BUMP_CAP: u32 = 98304;
// @ts-ignore: compile-time constant (the WasmEdge build reserves nothing)
const BUMP: usize = isDefined(SIP_WASI_P2) ? memory.data(<i32>BUMP_CAP, 16) : 0;
let bumpAt: usize = 0;

export function bumpReset(): void { bumpAt = 0; }

/** The canonical ABI's allocator (exported as cabi_realloc by the p2 entry): never frees, never grows. */
export function bumpAlloc(old: usize, oldSize: usize, align: usize, size: usize): usize {
  if (old != 0) unreachable(); // the runtime never reallocates what it wrote (no streaming lists)
  const a = (bumpAt + align - 1) & ~(align - 1);
  if (a + size > <usize>BUMP_CAP) unreachable();
  bumpAt = a + size;
  return BUMP + a;
}

// ---- wasi:cli -----------------------------------------------------------------------------------

// @ts-ignore: decorator
@external("wasi:cli/environment@0.2.12", "get-arguments")
export declare function get_arguments(ret: usize): void; // ret: list<string> (ptr, len)
// @ts-ignore: decorator
@external("wasi:cli/exit@0.2.12", "exit")
export declare function exit(err: i32): void; // result: 0 ok, 1 error
// @ts-ignore: decorator
@external("wasi:cli/exit@0.2.12", "exit-with-code")
export declare function exit_with_code(code: i32): void; // stable in 0.2.12 (wasmtime 49: no flag needed)
// @ts-ignore: decorator
@external("wasi:cli/stdout@0.2.12", "get-stdout")
export declare function get_stdout(): i32;
// @ts-ignore: decorator
@external("wasi:cli/stderr@0.2.12", "get-stderr")
export declare function get_stderr(): i32;

// ---- wasi:io --------------------------------------------------------------------------------------

// @ts-ignore: decorator
@external("wasi:io/poll@0.2.12", "poll")
export declare function poll(list: usize, len: u32, ret: usize): void; // ret: list<u32>
// @ts-ignore: decorator
@external("wasi:io/poll@0.2.12", "[resource-drop]pollable")
export declare function pollable_drop(h: i32): void;
// @ts-ignore: decorator
@external("wasi:io/poll@0.2.12", "[method]pollable.ready")
export declare function pollable_ready(h: i32): i32;
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[method]output-stream.check-write")
export declare function out_check_write(h: i32, ret: usize): void; // result<u64, stream-error>: tag @0, u64 @8
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[method]output-stream.write")
export declare function out_write(h: i32, p: usize, n: u32, ret: usize): void; // result<_, stream-error>
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[method]output-stream.blocking-write-and-flush")
export declare function out_blocking_write_and_flush(h: i32, p: usize, n: u32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[method]output-stream.flush")
export declare function out_flush(h: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[method]output-stream.subscribe")
export declare function out_subscribe(h: i32): i32;
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[resource-drop]output-stream")
export declare function out_drop(h: i32): void;
// @ts-ignore: decorator
@external("wasi:io/error@0.2.12", "[resource-drop]error")
export declare function error_drop(h: i32): void;
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[method]input-stream.read")
export declare function in_read(h: i32, len: u64, ret: usize): void; // result<list<u8>, stream-error>: tag @0, ptr @4, len @8
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[method]input-stream.subscribe")
export declare function in_subscribe(h: i32): i32;
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[resource-drop]input-stream")
export declare function in_drop(h: i32): void;

// ---- wasi:clocks, wasi:random ----------------------------------------------------------------------

// @ts-ignore: decorator
@external("wasi:clocks/monotonic-clock@0.2.12", "now")
export declare function monotonic_now(): u64; // ns
// @ts-ignore: decorator
@external("wasi:clocks/monotonic-clock@0.2.12", "subscribe-duration")
export declare function subscribe_duration(ns: u64): i32;
// @ts-ignore: decorator
@external("wasi:clocks/wall-clock@0.2.12", "now")
export declare function wall_now(ret: usize): void; // datetime: seconds u64 @0, nanoseconds u32 @8
// @ts-ignore: decorator
@external("wasi:random/random@0.2.12", "get-random-u64")
export declare function get_random_u64(): u64;

// ---- wasi:filesystem --------------------------------------------------------------------------------

// @ts-ignore: decorator
@external("wasi:filesystem/preopens@0.2.12", "get-directories")
export declare function get_directories(ret: usize): void; // list<tuple<descriptor, string>>: 12 bytes each
// @ts-ignore: decorator
@external("wasi:filesystem/types@0.2.12", "[method]descriptor.open-at")
export declare function descriptor_open_at(h: i32, pathFlags: i32, p: usize, n: u32, openFlags: i32, flags: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:filesystem/types@0.2.12", "[method]descriptor.read")
export declare function descriptor_read(h: i32, len: u64, offset: u64, ret: usize): void; // tag @0, ptr @4, len @8, eof @12
// @ts-ignore: decorator
@external("wasi:filesystem/types@0.2.12", "[resource-drop]descriptor")
export declare function descriptor_drop(h: i32): void;

// wasi:filesystem error-code -> the preview-1 errno the WasmEdge build reports for the same failure
export function fsErrno(code: u32): i32 {
  switch (code) {
    case 0: return 2; // access -> EACCES
    case 14: return 31; // is-directory -> EISDIR
    case 20: return 44; // no-entry -> ENOENT
    case 24: return 54; // not-directory -> ENOTDIR
    case 31: return 63; // not-permitted -> EPERM
    default: return 1000 + <i32>code; // shown as "errno 10NN": 1000 + the wasi:filesystem error-code
  }
}

// ---- wasi:sockets -----------------------------------------------------------------------------------
// ip-socket-address, flattened (11 i32 after the discriminant): ipv4 = port, a, b, c, d; ipv6 = port,
// flow-info, 8 x u16, scope-id. In memory (align 4, 32 bytes): tag u8 @0, port u16 @4; ipv4 bytes @6..9;
// ipv6 flow-info @8, 8 x u16 @12..27, scope-id @28.

// @ts-ignore: decorator
@external("wasi:sockets/instance-network@0.2.12", "instance-network")
export declare function instance_network(): i32;
// @ts-ignore: decorator
@external("wasi:sockets/udp-create-socket@0.2.12", "create-udp-socket")
export declare function create_udp_socket(family: i32, ret: usize): void; // result<udp-socket, error-code>
// @ts-ignore: decorator
@external("wasi:sockets/udp@0.2.12", "[method]udp-socket.start-bind")
export declare function udp_start_bind(h: i32, net: i32, tag: i32, a0: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32,
  a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/udp@0.2.12", "[method]udp-socket.finish-bind")
export declare function udp_finish_bind(h: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/udp@0.2.12", "[method]udp-socket.stream")
export declare function udp_stream(h: i32, some: i32, tag: i32, a0: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32,
  a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, ret: usize): void; // result<tuple<in, out>, error-code>: @4, @8
// @ts-ignore: decorator
@external("wasi:sockets/udp@0.2.12", "[method]udp-socket.local-address")
export declare function udp_local_address(h: i32, ret: usize): void; // result<ip-socket-address, _>: address @4
// @ts-ignore: decorator
@external("wasi:sockets/udp@0.2.12", "[method]udp-socket.set-receive-buffer-size")
export declare function udp_set_receive_buffer_size(h: i32, v: u64, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/udp@0.2.12", "[method]udp-socket.set-send-buffer-size")
export declare function udp_set_send_buffer_size(h: i32, v: u64, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/udp@0.2.12", "[method]incoming-datagram-stream.receive")
export declare function udp_receive(h: i32, max: u64, ret: usize): void; // result<list<incoming-datagram>>: ptr @4, len @8
// @ts-ignore: decorator
@external("wasi:sockets/udp@0.2.12", "[method]incoming-datagram-stream.subscribe")
export declare function udp_in_subscribe(h: i32): i32;
// @ts-ignore: decorator
@external("wasi:sockets/udp@0.2.12", "[method]outgoing-datagram-stream.check-send")
export declare function udp_check_send(h: i32, ret: usize): void; // result<u64, error-code>: u64 @8
// @ts-ignore: decorator
@external("wasi:sockets/udp@0.2.12", "[method]outgoing-datagram-stream.send")
export declare function udp_send(h: i32, list: usize, n: u32, ret: usize): void; // result<u64, error-code>: u64 @8

// @ts-ignore: decorator
@external("wasi:sockets/tcp-create-socket@0.2.12", "create-tcp-socket")
export declare function create_tcp_socket(family: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.start-bind")
export declare function tcp_start_bind(h: i32, net: i32, tag: i32, a0: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32,
  a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.finish-bind")
export declare function tcp_finish_bind(h: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.start-listen")
export declare function tcp_start_listen(h: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.finish-listen")
export declare function tcp_finish_listen(h: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.accept")
export declare function tcp_accept(h: i32, ret: usize): void; // result<tuple<tcp-socket, in, out>>: @4, @8, @12
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.start-connect")
export declare function tcp_start_connect(h: i32, net: i32, tag: i32, a0: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32,
  a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.finish-connect")
export declare function tcp_finish_connect(h: i32, ret: usize): void; // result<tuple<in, out>, error-code>: @4, @8
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.local-address")
export declare function tcp_local_address(h: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.remote-address")
export declare function tcp_remote_address(h: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.subscribe")
export declare function tcp_subscribe(h: i32): i32;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[method]tcp-socket.shutdown")
export declare function tcp_shutdown(h: i32, how: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:sockets/tcp@0.2.12", "[resource-drop]tcp-socket")
export declare function tcp_drop(h: i32): void;
