// The WASI imports of the WASI host: wasi_snapshot_preview1 plus WasmEdge's socket extension (which
// lives in the same import module). Every function returns a WASI errno (0 = success). Only the
// host imports these; the core (assembly/) stays import-free.
//
// Socket signatures (WasmEdge 0.14; it picks between two versions of each function by signature):
//   sock_open(af, type, *fd)                   af 1 = IPv4, 2 = IPv6; type 1 = datagram, 2 = stream
//   sock_setsockopt(fd, level, name, *i32, 4)  level 0 = SOL_SOCKET
//   sock_bind(fd, *addr, port)                 *addr = {u32 buf, u32 len}: 4 = IPv4, 16 = IPv6; port host order
//   sock_getlocaladdr(fd, *addr, *family, *port)  *addr buffer of 128 bytes: u16 family, address at +2
//   sock_recv_from(fd, *iovs, n, *addr, riflags, *port, *nread, *roflags)  port in NETWORK order
//   sock_send_to(fd, *iovs, n, *addr, port, siflags, *nwritten)             port in host order

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "args_sizes_get")
export declare function args_sizes_get(argc: usize, bufSize: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "args_get")
export declare function args_get(argv: usize, buf: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_write")
export declare function fd_write(fd: u32, iovs: usize, n: u32, nwritten: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_fdstat_get")
export declare function fd_fdstat_get(fd: u32, buf: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_fdstat_set_flags")
export declare function fd_fdstat_set_flags(fd: u32, flags: u32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "clock_time_get")
export declare function clock_time_get(id: u32, precision: u64, time: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "random_get")
export declare function random_get(buf: usize, len: u32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "poll_oneoff")
export declare function poll_oneoff(subs: usize, events: usize, n: u32, nevents: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "proc_exit")
export declare function proc_exit(code: u32): void;

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_prestat_get")
export declare function fd_prestat_get(fd: u32, buf: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_prestat_dir_name")
export declare function fd_prestat_dir_name(fd: u32, path: usize, len: u32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_open")
export declare function path_open(dirfd: u32, dirflags: u32, path: usize, pathLen: u32, oflags: u32, rightsBase: u64, rightsInheriting: u64, fdflags: u32, fd: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_read")
export declare function fd_read(fd: u32, iovs: usize, n: u32, nread: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_close")
export declare function fd_close(fd: u32): i32;

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "sock_open")
export declare function sock_open(af: u32, type: u32, fd: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "sock_setsockopt")
export declare function sock_setsockopt(fd: u32, level: u32, name: u32, value: usize, len: u32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "sock_bind")
export declare function sock_bind(fd: u32, addr: usize, port: u32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "sock_getlocaladdr")
export declare function sock_getlocaladdr(fd: u32, addr: usize, family: usize, port: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "sock_recv_from")
export declare function sock_recv_from(fd: u32, iovs: usize, n: u32, addr: usize, riflags: u32, port: usize, nread: usize, roflags: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "sock_send_to")
export declare function sock_send_to(fd: u32, iovs: usize, n: u32, addr: usize, port: u32, siflags: u32, nwritten: usize): i32;

export const ERRNO_ACCES: i32 = 2;
export const ERRNO_AGAIN: i32 = 6;
export const ERRNO_BADF: i32 = 8;
export const ERRNO_ISDIR: i32 = 31;
export const ERRNO_NOENT: i32 = 44;
export const ERRNO_NOTCAPABLE: i32 = 76;
export const LOOKUP_SYMLINK_FOLLOW: u32 = 1;
export const RIGHT_FD_READ: u64 = 2;
export const ERRNO_INTR: i32 = 27;
export const CLOCK_REALTIME: u32 = 0;
export const CLOCK_MONOTONIC: u32 = 1;
export const FDFLAGS_NONBLOCK: u32 = 4;
export const EVENTTYPE_CLOCK: u8 = 0;
export const EVENTTYPE_FD_READ: u8 = 1;
export const ROFLAGS_DATA_TRUNCATED: u16 = 1;
export const AF_INET: u32 = 1;
export const AF_INET6: u32 = 2;
export const SOCK_DGRAM: u32 = 1;
export const SOL_SOCKET: u32 = 0;
export const SO_SNDBUF: u32 = 5;
export const SO_RCVBUF: u32 = 6;
