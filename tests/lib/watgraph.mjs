// The allocation reach of an AssemblyScript build's text form (.wat), for the "no allocation after
// start-up" tests of the WASI hosts: which functions can (transitively) reach the stub allocator, and
// whether each is start-up code. Exact only without call_indirect (the tests assert there is none).

/**
 * { reach, allocs, callers, outsideStartup } of `wat`: allocs = the functions that move the stub
 * allocator's offset, reach = those and every function that calls one of them (transitively),
 * callers = callee -> Set(caller), outsideStartup = the reaching functions that are not a constructor,
 * a static initialiser ($start:*), the start function or the allocator itself.
 */
export function allocationReach(wat) {
  const callers = new Map();
  const allocs = new Set();
  let fn = null;
  for (const line of wat.split("\n")) {
    const f = /^ \(func (\$\S+)/.exec(line);
    if (f) fn = f[1];
    if (!fn) continue;
    if (line.includes("global.set $~lib/rt/stub/offset")) allocs.add(fn);
    const c = /\(?call (\$\S+?)\)?$/.exec(line.trim()) ?? /call (\$[^\s)]+)/.exec(line);
    if (c) {
      if (!callers.has(c[1])) callers.set(c[1], new Set());
      callers.get(c[1]).add(fn);
    }
  }
  const reach = new Set(allocs);
  const todo = [...allocs];
  while (todo.length) for (const c of callers.get(todo.pop()) ?? []) if (!reach.has(c)) (reach.add(c), todo.push(c));
  // the stub's allocator, and the tables' (assembly/util/alloc.ts grownAlloc): allocators, whose own
  // callers must be start-up code as any other's
  const startup = (f) => /#constructor$/.test(f) || f.startsWith("$start:") || f === "$~start" || f === "$~lib/rt/stub/__new" ||
    f === "$~lib/rt/stub/__alloc" || f === "$assembly/util/alloc/grownAlloc";
  return { reach, allocs, callers, outsideStartup: [...reach].filter((f) => !startup(f)) };
}
