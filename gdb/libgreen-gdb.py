# libgreen-gdb.py — gdb commands that see libgreen's green threads, for a patched program
# (LD_PRELOAD=libgreen.so) or one linked with libgreen, live (gdb -p PID) or from the start.
#
#   info green-threads      every green thread of every OS thread: #seq, handle, name,
#   (also: green threads)   state and what it waits on, as the runtime's deadlock report
#                           says it (runtime/debug.c); "*" marks the one running
#   green bt [N|all|hub] [bt options]
#                           backtrace of green thread #N (default: the running one), of
#                           every one and the hubs, or of the hubs alone; the options go
#                           to `bt` (full, 5, ...)
#
# Loading.  `make install` puts this file where gdb auto-loads it for libgreen.so:
# $(PREFIX)/share/gdb/auto-load/<libdir>/libgreen.so-gdb.py (gdb manual, "objfile-gdb.ext
# file").  gdb looks there, and trusts it, only under its auto-load scripts-directory and
# safe-path, whose default is $debugdir:$datadir/auto-load, i.e. /usr/share/gdb/auto-load on
# Debian: a PREFIX=/usr install just works; for /usr/local, add to ~/.gdbinit
#     add-auto-load-scripts-directory /usr/local/share/gdb/auto-load
#     add-auto-load-safe-path /usr/local/share/gdb/auto-load
# or load it by hand, in gdb or with -x, from the copy make install also puts in
#     source /usr/local/share/libgreen/libgreen-gdb.py
# (in the source tree: source gdb/libgreen-gdb.py).  For example:
#     gdb -p PID -batch -x /usr/local/share/libgreen/libgreen-gdb.py \
#         -ex 'info green-threads' -ex 'green bt all'
#
# What it reads.  All of it comes from libgreen's debug info (libgreen.so is built -O2 -g
# and installed unstripped): each OS thread's state is the thread-local green__tls, a
# struct green__local (runtime/internal.h) whose sched.all lists its green threads (struct
# green_thread, linked through .all), sched.current is the one running and sched.hub the
# hub, which runs the libev loop and is not on the list.  Reading green__tls needs gdb's
# libthread_db support, which gdb -p and gdb ./program both set up.
#
# Backtraces.  A green thread that is not running is parked in green__ctx_switch: its
# struct green_ctx holds the stack pointer saved there, below the callee-saved registers
# and the return address the switch pushed (runtime/ctx_x86_64.S), or, with make
# CTX=ucontext, a ucontext_t filled by swapcontext.  As Go's runtime-gdb.py does for
# goroutines, `green bt` saves the OS thread's registers, loads the green thread's saved
# ones (rip, rsp and the callee-saved rbx, rbp, r12-r15), runs `bt`, and puts the OS
# thread's registers back whatever happens, so the program continues exactly as it was
# after gdb detaches.  With the assembly switch, rip is green__ctx_switch's own `ret` and
# rsp points at the return address it is about to pop (its CFI holds there), so the
# backtrace starts in green__ctx_switch, as it would if the thread were stopped in it.  The
# running green thread's backtrace (and the hub's, when the OS thread sleeps in the loop) is
# its OS thread's own.  Only x86_64 saved contexts are decoded; elsewhere `green bt` says
# so and `info green-threads` still works.  On a core file (gcore, a crash) gdb cannot
# change registers: info green-threads works, and green bt shows the running threads only.

import contextlib
import time

import gdb

GREEN_READ = 1   # runtime/green.h
GREEN_WRITE = 2
GREEN_NO_DEADLINE = (1 << 63) - 1

# runtime/sched.c: green__state_name and green__wait_name, keyed by enumerator name so a
# renumbering in internal.h cannot shift them.
STATE_NAMES = {
    "GREEN_FREE": "free", "GREEN_READY": "ready", "GREEN_RUNNING": "running",
    "GREEN_WAITING": "waiting", "GREEN_DONE": "done",
}
WAIT_NAMES = {
    "GREEN_WAIT_NONE": "nothing", "GREEN_WAIT_FD": "fd", "GREEN_WAIT_SLEEP": "sleep",
    "GREEN_WAIT_JOIN": "join", "GREEN_WAIT_MUTEX": "mutex", "GREEN_WAIT_COND": "condvar",
    "GREEN_WAIT_RWLOCK": "rwlock", "GREEN_WAIT_SEM": "semaphore", "GREEN_WAIT_ONCE": "once",
    "GREEN_WAIT_BARRIER": "barrier", "GREEN_WAIT_EVENT": "event",
    "GREEN_WAIT_POOL": "pool job", "GREEN_WAIT_CHILD": "child",
    "GREEN_WAIT_HANDOFF": "hand-off", "GREEN_WAIT_EXITED": "exited",
    "GREEN_WAIT_OTHER": "call",
}

# x86_64 frame of green__ctx_switch, from the saved sp (runtime/ctx_x86_64.S): byte offset
# of each register, and of the return address its `ret` pops.
X86_64_SAVED = (("r15", 8), ("r14", 16), ("r13", 24), ("r12", 32), ("rbx", 40),
                ("rbp", 48))
X86_64_RETURN = 56
# ucontext_t's gregs on x86_64 (<sys/ucontext.h> REG_*): what swapcontext saved.
X86_64_GREGS = (("r12", 4), ("r13", 5), ("r14", 6), ("r15", 7), ("rbp", 10), ("rbx", 11),
                ("rsp", 15), ("rip", 16))
X86_64_RESTORE = ("rip", "rsp", "rbp", "rbx", "r12", "r13", "r14", "r15")


def _type(name):
    try:
        return gdb.lookup_type(name)
    except gdb.error:
        raise gdb.GdbError(
            "libgreen: no '%s' in the debug info: is libgreen.so loaded, and built with -g "
            "and not stripped?" % name)


def _field(struct, name):
    for f in struct.fields():
        if f.name == name:
            return f
    raise gdb.GdbError("libgreen: '%s' has no field '%s': this script does not match the "
                       "libgreen.so it is looking at" % (struct, name))


def _enum_names(type_name):
    return {int(f.enumval): f.name for f in _type(type_name).fields()}


@contextlib.contextmanager
def clear_errors():
    """Turn a gdb error from reading the program (a field the debug info lacks, memory
    that cannot be read) into one line naming libgreen, instead of a Python traceback."""
    try:
        yield
    except gdb.error as e:
        raise gdb.GdbError("libgreen: %s (is the program's libgreen.so the one this script "
                           "comes with, built with -g?)" % e)


class Runtime:
    """The types and enumerations of the libgreen.so being debugged."""

    def __init__(self):
        self.thread = _type("struct green_thread")
        self.thread_ptr = self.thread.pointer()
        self.all_offset = _field(self.thread, "all").bitpos // 8
        self.u64 = _type("unsigned long")
        self.states = _enum_names("enum green__state")
        self.waits = _enum_names("enum green__wait_kind")
        ctx = _type("struct green_ctx")
        self.ucontext = any(f.name == "uc" for f in ctx.fields())

    def state(self, t):
        s = int(t["state"])
        return STATE_NAMES.get(self.states.get(s), "?")

    def wait_kind(self, t):
        return self.waits.get(int(t["wait"]["kind"]), "?")

    def threads(self, local):
        """The green threads on local's sched.all list, in spawn order."""
        head = local["sched"]["all"].address
        node = head.dereference()["next"]
        seen = 0
        while node != head:
            addr = int(node.cast(self.u64)) - self.all_offset
            yield gdb.Value(addr).cast(self.thread_ptr)
            node = node.dereference()["next"]
            seen += 1
            if seen > 10000000:
                raise gdb.GdbError("libgreen: the thread list does not end (corrupt?)")


def _name(t):
    return t["name"].string(length=16).split("\0")[0]


def _handle(t):
    return (int(t["gen"]) << 32) | (int(t["slot"]) << 1) | 1


def _target():
    """The kind of target: "native" (a process on this machine), "core", "remote", ..."""
    conn = getattr(gdb.selected_inferior(), "connection", None)
    return conn.type if conn is not None else "?"


def _live():
    """True when the inferior runs on this machine now (deadlines are then relative)."""
    return _target() == "native"


def describe_wait(rt, t):
    """runtime/debug.c's describe_wait: what a parked green thread waits on."""
    w = t["wait"]
    kind = rt.wait_kind(t)
    if kind == "GREEN_WAIT_FD":
        ev = int(w["events"])
        what = "+".join(n for b, n in ((GREEN_READ, "read"), (GREEN_WRITE, "write")) if ev & b)
        s = "fd %d for %s" % (int(w["fd"]), what)
    elif kind == "GREEN_WAIT_CHILD":
        s = "child pid %d" % int(w["fd"])
    elif kind == "GREEN_WAIT_JOIN":
        j = w["obj"].cast(rt.thread_ptr).dereference()
        s = 'join of #%d "%s"' % (int(j["seq"]), _name(j))
    elif kind == "GREEN_WAIT_SLEEP":
        s = "sleep"
    elif kind == "GREEN_WAIT_OTHER":
        desc = w["desc"]
        s = desc.string() if int(desc.cast(rt.u64)) else "a call"
    elif kind == "GREEN_WAIT_EXITED":
        s = "the other green threads to end (main called green_exit)"
    else:
        s = "%s 0x%x" % (WAIT_NAMES.get(kind, "?"), int(w["obj"].cast(rt.u64)))
    deadline = int(w["deadline"])
    if deadline != GREEN_NO_DEADLINE and kind != "GREEN_WAIT_NONE":
        if _live():
            left = deadline - time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            if left >= 0:
                s += ", deadline in %.3f s" % (left / 1e9)
            else:  # the process was stopped, or something holds its OS thread
                s += ", deadline passed %.3f s ago" % (-left / 1e9)
        else:
            s += ", deadline at %.3f s of CLOCK_MONOTONIC" % (deadline / 1e9)
    return s


class OsThread:
    """One OS thread of the inferior that has libgreen state."""

    def __init__(self, rt, thread, local):
        self.rt = rt
        self.thread = thread
        self.local = local
        self.current = int(local["sched"]["current"].cast(rt.u64))
        self.hub = local["sched"]["hub"]

    def green_threads(self):
        return list(self.rt.threads(self.local))

    def is_current(self, t):
        return int(t.cast(self.rt.u64)) == self.current


def runtime():
    """The Runtime of the program being debugged, once there is one."""
    if gdb.selected_inferior().pid == 0:
        raise gdb.GdbError("libgreen: no process (run the program, attach with gdb -p PID "
                           "or load a core file first)")
    return Runtime()


def os_threads(rt):
    """Every OS thread of the selected inferior with a green__tls, in gdb's order."""
    inf = gdb.selected_inferior()
    keep_thread = gdb.selected_thread()
    keep_frame = gdb.selected_frame()
    found = []
    try:
        for th in sorted(inf.threads(), key=lambda x: x.num):
            th.switch()
            try:
                local = gdb.parse_and_eval("green__tls")
            except gdb.error as e:
                raise gdb.GdbError("libgreen: cannot read green__tls in thread %d (%s): is "
                                   "libgreen.so loaded, with its debug info, and is gdb's "
                                   "libthread_db support working?" % (th.num, e))
            if int(local.cast(rt.u64)):
                found.append(OsThread(rt, th, local.dereference()))
    finally:
        keep_thread.switch()
        keep_frame.select()
    return found


def _os_label(ost):
    th = ost.thread
    return "OS thread %d (LWP %d%s)" % (th.num, th.ptid[1],
                                        ' "%s"' % th.name if th.name else "")


class InfoGreenThreads(gdb.Command):
    """List every green thread of every OS thread of the program (libgreen).
Usage: info green-threads
For each: * if it is running, #seq, handle (the pthread_t of a patched program), name,
state and what it waits on, as libgreen's deadlock report says it.  The hub line is the
OS thread's event loop; "running" there means the OS thread sleeps in the loop."""

    def __init__(self, name="info green-threads"):
        super().__init__(name, gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError("info green-threads takes no argument")
        with clear_errors():
            self._list()

    def _list(self):
        rt = runtime()
        osts = os_threads(rt)
        if not osts:
            gdb.write("No green threads: no OS thread of this program has started libgreen.\n")
            return
        for ost in osts:
            threads = ost.green_threads()
            gdb.write("%s: %d green thread%s\n" % (_os_label(ost), len(threads),
                                                    "" if len(threads) == 1 else "s"))
            gdb.write("    %-6s %-18s %-17s %-8s %s\n" % ("Seq", "Handle", "Name", "State",
                                                          "Waits on"))
            hub = ost.hub
            if int(hub.cast(rt.u64)):
                running = ost.is_current(hub)
                gdb.write("  %s %-6s %-18s %-17s %-8s %s\n" % (
                    "*" if running else " ", "hub", "-", '"hub"',
                    "running" if running else "idle", "(the libev loop)"))
            for t in threads:
                state = rt.state(t)
                what = describe_wait(rt, t) if state == "waiting" else ""
                if int(t["killed"]):
                    what += " (killed)"
                gdb.write("  %s %-6s 0x%-16x %-17s %-8s %s\n" % (
                    "*" if ost.is_current(t) else " ", "#%d" % int(t["seq"]), _handle(t),
                    '"%s"' % _name(t), state, what))


class GreenPrefix(gdb.Command):
    """libgreen's green threads: green threads, green bt."""

    def __init__(self):
        super().__init__("green", gdb.COMMAND_STACK, prefix=True)

    def invoke(self, arg, from_tty):
        gdb.execute("help green")


class GreenThreads(InfoGreenThreads):
    """List every green thread of the program (the same as info green-threads)."""

    def __init__(self):
        super().__init__("green threads")


def _read_u64(addr):
    mem = gdb.selected_inferior().read_memory(addr, 8)
    return int.from_bytes(bytes(mem), "little")


def saved_registers(rt, t):
    """The registers a parked green thread resumes with, as {name: value}, and a note to
    print before its backtrace (or None)."""
    arch = gdb.selected_frame().architecture().name()
    if "x86-64" not in arch:
        raise gdb.GdbError("libgreen: green bt decodes saved contexts on x86_64 only (this "
                           "is %s); info green-threads still works" % arch)
    ctx = t["ctx"]
    if rt.ucontext:
        gregs = ctx["uc"]["uc_mcontext"]["gregs"]
        regs = {reg: int(gregs[i]) & (2**64 - 1) for reg, i in X86_64_GREGS}
        # Never run: makecontext pointed it at ctx_ucontext.c's trampoline.
        block = gdb.block_for_pc(regs["rip"])
        func = block.function if block else None
        if func and func.name == "trampoline" and func.symtab.filename.endswith("ucontext.c"):
            return regs, "(not started yet: it will begin in %s)" % _entry(rt, t)
        return regs, None
    sp = int(ctx["sp"].cast(rt.u64))
    if sp == 0:
        raise gdb.GdbError("libgreen: green thread #%d has no saved context" % int(t["seq"]))
    regs = {reg: _read_u64(sp + off) for reg, off in X86_64_SAVED}
    ret = _read_u64(sp + X86_64_RETURN)
    if ret == _address("green__ctx_trampoline"):
        # Never run: green__ctx_make's frame.  Show it where its first switch lands, in
        # the trampoline, whose CFI ends the walk there.
        regs["rsp"] = sp + X86_64_RETURN + 8
        regs["rip"] = ret
        return regs, "(not started yet: it will begin in %s)" % _entry(rt, t)
    regs["rsp"] = sp + X86_64_RETURN
    regs["rip"] = _switch_ret()
    return regs, None


def _entry(rt, t):
    """What a green thread runs: t->fn, or for a pthread of a patched program the routine
    given to pthread_create (preload/thread.c's start(struct pdata *) calls it)."""
    fn = t["fn"]
    try:
        block = gdb.block_for_pc(int(fn.cast(rt.u64)))
        func = block.function if block else None
        if func and func.name == "start" and func.symtab.filename.endswith("thread.c"):
            pdata = gdb.lookup_type("struct pdata", block).pointer()
            return "%s, from pthread_create" % t["arg"].cast(pdata).dereference()["start"]
    except (gdb.error, RuntimeError):
        pass
    return str(fn)


def _address(symbol):
    try:
        return int(gdb.parse_and_eval("(unsigned long)&%s" % symbol))
    except gdb.error:
        raise gdb.GdbError("libgreen: no symbol %s (is libgreen.so stripped?)" % symbol)


def _switch_ret():
    """The address of green__ctx_switch's `ret` instruction."""
    start = _address("green__ctx_switch")
    arch = gdb.selected_frame().architecture()
    for insn in arch.disassemble(start, count=64):
        if insn["asm"].split()[0] in ("ret", "retq"):
            return insn["addr"]
    raise gdb.GdbError("libgreen: no ret in green__ctx_switch at 0x%x: this script does "
                       "not match runtime/ctx_x86_64.S" % start)


def _set_registers(regs):
    for reg in X86_64_RESTORE:
        gdb.execute("set var $%s = %d" % (reg, regs[reg]), to_string=True)


def backtrace(rt, ost, t, bt_args):
    """Print the backtrace of green thread t of OS thread ost."""
    ost.thread.switch()
    gdb.newest_frame().select()
    if ost.is_current(t):
        gdb.execute("bt %s" % bt_args)
        return
    state = rt.state(t)
    if state in ("done", "free"):
        gdb.write("(it has ended: no stack left to show)\n")
        return
    if _target() == "core":
        gdb.write("(parked: its backtrace needs a live process, as gdb cannot load its "
                  "saved registers into a core file's thread)\n")
        return
    regs, note = saved_registers(rt, t)
    if note:
        gdb.write(note + "\n")
    frame = gdb.newest_frame()
    saved = {reg: int(frame.read_register(reg).cast(rt.u64)) for reg in X86_64_RESTORE}
    try:
        _set_registers(regs)
        gdb.execute("bt %s" % bt_args)
    finally:
        _set_registers(saved)
        gdb.newest_frame().select()


class GreenBacktrace(gdb.Command):
    """Backtrace of green threads (libgreen).
Usage: green bt [N|all|hub] [bt options]
N is a green thread's #seq as info green-threads shows it; without one, the running green
thread of the selected OS thread; all: every hub and green thread; hub: every hub.
Options after it go to bt as they are (full, 10, -frame-arguments all, ...).  A parked
thread's frames come from the context its last switch saved; the OS thread's registers
are restored afterwards, even if bt fails."""

    def __init__(self):
        super().__init__("green bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        with clear_errors():
            self._bt(arg)

    def _bt(self, arg):
        words = arg.split()
        which = words[0] if words else ""
        if which and which not in ("all", "hub") and not which.lstrip("#").isdigit():
            which = ""
        bt_args = " ".join(words[1:] if which else words)
        rt = runtime()
        osts = os_threads(rt)
        if not osts:
            raise gdb.GdbError("libgreen: no OS thread of this program has started libgreen")
        keep_thread = gdb.selected_thread()
        keep_frame = gdb.selected_frame()
        try:
            self._run(rt, osts, which, bt_args, keep_thread)
        finally:
            keep_thread.switch()
            keep_frame.select()

    def _run(self, rt, osts, which, bt_args, selected):
        if which == "":
            for ost in osts:
                if ost.thread.num == selected.num:
                    cur = ost.local["sched"]["current"]
                    self._one(rt, ost, cur, bt_args)
                    return
            raise gdb.GdbError("libgreen: the selected OS thread has no green threads")
        if which == "hub":
            for ost in osts:
                self._one(rt, ost, ost.hub, bt_args)
            return
        seq = None if which == "all" else int(which.lstrip("#"))
        for ost in osts:
            if seq is None and int(ost.hub.cast(rt.u64)):
                self._one(rt, ost, ost.hub, bt_args)
            for t in ost.green_threads():
                if seq is None or int(t["seq"]) == seq:
                    self._one(rt, ost, t, bt_args)
                    if seq is not None:
                        return
        if seq is not None:
            raise gdb.GdbError("libgreen: no green thread #%d (see info green-threads)" % seq)

    def _one(self, rt, ost, t, bt_args):
        hub = int(t.cast(rt.u64)) == int(ost.hub.cast(rt.u64))
        state = "running" if ost.is_current(t) else "idle" if hub else rt.state(t)
        gdb.write('\ngreen thread %s "%s" (%s) of %s:\n' % (
            "hub" if hub else "#%d" % int(t["seq"]), _name(t), state, _os_label(ost)))
        try:
            backtrace(rt, ost, t, bt_args)
        except gdb.error as e:
            gdb.write("(no backtrace: %s)\n" % e)


InfoGreenThreads()
GreenPrefix()
GreenThreads()
GreenBacktrace()
