#!/usr/bin/python3
"""ipcc_agent: the CPython agent of the ipcc agent protocol, version 1.

Runs CPython's own `multiprocessing` for the conformance suite, one operation at a time, as
adapters/agent/PROTOCOL.md specifies. Run it with Debian's CPython 3.11 (stdlib only):

    /usr/bin/python3 ipcc_agent.py --start-method=fork|spawn

The suite passes one connected AF_UNIX stream socket as fd 0 and fd 1. The agent moves it off
fds 0 and 1 (which become /dev/null) so nothing started from here can hold the channel by
accident, then serves JSON lines with raw blobs after them, strictly one request and one reply.

Processes. Every agent process serves exactly one session (its twin's C++ process). `twin`
takes a socket by SCM_RIGHTS and starts a child twin the way a multiprocessing user starts a
process: `get_context(start_method).Process(target=_twin_main, args=(objects, sock, ...))`,
so every live object is inherited under fork and pickled under spawn, exactly as a Process
argument. The child closes every channel it inherited that is not its own and serves the same
loop with the same object ids. The reply is the child's pid once `start()` returned. A second
thread per process, the watcher, polls the channel for POLLRDHUP: end of file without a
preceding `end` SIGKILLs the process at once, also while the main thread is blocked in a call.
The watcher also reaps child twins that ended (through multiprocessing's own Popen, by pidfd),
so a dead twin's pid disappears. `end` makes the process end normally: a twin returns from its
Process target, the root returns from main, and multiprocessing's exit path runs (feeder
threads flush, non-daemonic children are joined); the channel reaches end of file when the
process is gone.

Calls. Every call is the multiprocessing call a user would write, on the main thread (the
suite probes /proc/<pid>/stat of that thread to see it blocked), and the outcome is what CPython
did: a return value, or its exception mapped to an ipcc errc spelling (`_errc`). The agent adds
no validation and no behaviour of its own. Waits: `timeout_ns` null is CPython's no-limit form,
> 0 its timeout in seconds, <= 0 its try-once form (block=False, acquire(False), poll(0),
wait(0)). Where CPython has no timed form, the agent composes the least it can:

- recv_bytes / recv_bytes_into with a limit: poll(timeout), then the untimed call (the limit
  bounds the wait for a message to start arriving, as connection.h says);
- JoinableQueue.join with a limit: join() in a daemon thread, waited on with the limit; the
  try-once form is join()'s own first step (`_unfinished_tasks` is zero) under its condition;
- SimpleQueue.get with a limit: Queue.get's timed steps on the SimpleQueue's own read lock and
  pipe (`_simple_get`); SimpleQueue.put ignores limits, it has none;
- a method a kind does not have in CPython (AttributeError) is `unsupported`.

Object ids are `pid << 24 | n`, n from a counter a child twin inherits and continues, so ids
never collide inside one process's table, even when a pid is reused.

Under spawn, a closed Connection (alone or inside a Queue) cannot be pickled by CPython; the
agent hands the child a closed Connection with the same direction instead, since the C++ side
has already forked and its child holds a closed copy.
"""

import argparse
import array
import errno
import json
import os
import pickle
import platform
import queue
import select
import signal
import socket
import sys
import threading
import time

import multiprocessing
import multiprocessing.connection
from multiprocessing import queues, reduction, synchronize
from multiprocessing.connection import BufferTooShort, Connection, reduce_connection

AGENT = "ipcc-cpython-agent 1.0.0"
PROTOCOL = 1

_CHUNK = 1 << 16
_TWIN_START_LIMIT = 60  # seconds; a spawned interpreter starts in about 40 ms here
_ANCILLARY = socket.CMSG_SPACE(16 * array.array("i").itemsize)

# The session this process serves. A fork child finds its parent's here and closes it.
_SESSION = None


def _log(text):
    print(f"ipcc-agent[{os.getpid()}]: {text}", file=sys.stderr, flush=True)


def _die():
    """Ends this process as if killed: its C++ twin is gone."""
    os.kill(os.getpid(), signal.SIGKILL)


# --- capabilities -----------------------------------------------------------------------------

def _capabilities():
    sem_value_max = synchronize.SEM_VALUE_MAX
    linux = sys.platform.startswith("linux")
    no_limit = (1 << 64) - 1  # the 8-byte length header of CPython's framing; memory is the real bound
    return {
        "fork": True,
        "spawn": True,
        "pipe": {
            "duplex_pipes": True,
            "simplex_pipes": True,
            "max_message_bytes": no_limit,
            # An os.pipe holds 16 pages; writes of just over half a page each take a page, so
            # 16 messages block from about 36 KiB. A socketpair holds about 278 small frames.
            "min_buffer_bytes": 32768,
            "min_buffered_messages": 128,
            "duplex_close_with_unread": "connection_reset",
            "atomic_small_frames": True,
            "frame_header_bytes": 4,
        },
        "queue": {
            "queue": True,
            "simple_queue": True,
            "joinable_queue": True,
            "qsize": linux,
            "put_visible_at_once": False,
            "max_maxsize": sem_value_max,
            "max_item_bytes": no_limit,
            "min_storage_bytes": 65536,
            "serialization_failure": "dropped_silently",
            "unconsumed_exit": "waits_for_consumers",
            "killed_consumer": "may_wedge",
            "killed_producer": "may_wedge",
        },
        "sync": {
            "lock": True,
            "rlock": True,
            "semaphore": True,
            "bounded_semaphore": True,
            "event": True,
            "condition": True,
            "barrier": True,
            "get_value": linux,
            "max_semaphore_value": sem_value_max,
            "lock_owner_death": "stays_held",
            "rlock_owner_death": "stays_held",
        },
    }


# --- outcomes ---------------------------------------------------------------------------------

class _Fail(Exception):
    """An outcome the agent reports itself (no CPython exception carries it)."""

    def __init__(self, errc, detail="", native=0, blob=None):
        super().__init__(detail)
        self.errc, self.detail, self.native, self.blob = errc, detail, native, blob


_ERRNO_ERRC = {
    errno.EPIPE: "broken_pipe",
    errno.ECONNRESET: "connection_reset",
    errno.EMFILE: "resource_exhausted",
    errno.ENFILE: "resource_exhausted",
    errno.ENOMEM: "resource_exhausted",
    errno.EINVAL: "invalid_argument",  # Semaphore(-1): sem_open's EINVAL
}

# Exceptions CPython raises without an errno, recognised by their text (connection.py,
# synchronize.py, queues.py).
_TEXT_ERRC = (
    ("handle is closed", "closed"),
    ("is closed", "closed"),
    ("connection is read-only", "wrong_direction"),
    ("connection is write-only", "wrong_direction"),
    ("bad message length", "message_too_large"),
    ("got end of file during message", "truncated"),
    ("released too many times", "released_too_many_times"),
    ("task_done() called too many times", "too_many_task_done"),
)


def _errc(exc):
    """The errc spelling and native number for an exception CPython raised."""
    if isinstance(exc, EOFError):
        return "eof", 0
    if isinstance(exc, queue.Empty):
        return "empty", 0
    if isinstance(exc, queue.Full):
        return "full", 0
    if isinstance(exc, threading.BrokenBarrierError):
        return "broken", 0
    if isinstance(exc, pickle.PicklingError):
        return "serialization_failed", 0
    if isinstance(exc, AssertionError):  # RLock release, Condition wait/notify by a non-owner
        return "not_owner", 0
    if isinstance(exc, (AttributeError, NotImplementedError)):
        return "unsupported", 0
    if isinstance(exc, MemoryError):
        return "resource_exhausted", errno.ENOMEM
    if isinstance(exc, OSError) and exc.errno in _ERRNO_ERRC:
        return _ERRNO_ERRC[exc.errno], exc.errno
    if isinstance(exc, (OSError, ValueError)):
        text = str(exc)
        for fragment, code in _TEXT_ERRC:
            if fragment in text:
                return code, 0
    if isinstance(exc, (ValueError, TypeError, OverflowError)):
        return "invalid_argument", 0
    return "broken", getattr(exc, "errno", None) or 0


def _seconds(args):
    """timeout_ns as CPython's timeout: None (no limit), 0 (try once) or seconds."""
    ns = args.get("timeout_ns")
    if ns is None:
        return None
    return ns / 1e9 if ns > 0 else 0


class _Unpicklable:
    """The item of put_unencodable: its pickling raises pickle.PicklingError."""

    def __reduce__(self):
        raise pickle.PicklingError("ipcc: this item cannot be pickled")


# --- calls ------------------------------------------------------------------------------------
# Each handler gets (object, args, blob) and returns the reply members: "value" and/or "blob".

def _send_bytes(c, a, blob):
    c.send_bytes(blob, a.get("offset", 0), a.get("size"))


def _recv_bytes(c, a, _):
    maxlength, t = a.get("maxlength"), _seconds(a)
    # A negative maxlength raises before recv_bytes reads or waits; keep that order.
    if t is not None and not (maxlength is not None and maxlength < 0) and not c.poll(t):
        raise _Fail("timeout", "no message")
    return {"blob": c.recv_bytes(maxlength)}


def _recv_bytes_into(c, a, _):
    length, offset, t = a["length"], a.get("offset", 0), _seconds(a)
    buffer = bytearray(length)
    # A bad offset raises before recv_bytes_into reads or waits; keep that order.
    if t is not None and 0 <= offset <= length and not c.poll(t):
        raise _Fail("timeout", "no message")
    try:
        n = c.recv_bytes_into(buffer, offset)
    except BufferTooShort as e:
        raise _Fail("buffer_too_short", "buffer too short", blob=e.args[0]) from None
    return {"value": n, "blob": memoryview(buffer)[offset:offset + n]}


_PIPE = {
    "send_bytes": _send_bytes,
    "recv_bytes": _recv_bytes,
    "recv_bytes_into": _recv_bytes_into,
    "poll": lambda c, a, _: {"value": c.poll(_seconds(a))},
    "close": lambda c, a, _: c.close(),
    "state": lambda c, a, _: {"value": {"closed": c.closed, "readable": c.readable, "writable": c.writable}},
}


def _put(q, a, item):
    t = _seconds(a)
    if isinstance(q, queues.SimpleQueue) or t is None:
        q.put(item)
    elif t == 0:
        q.put(item, False)
    else:
        q.put(item, True, t)


def _simple_get(q, t):
    """SimpleQueue.get with a limit, by Queue.get's own steps: CPython's SimpleQueue has no timed
    get, but it has the same read lock and pipe as Queue, and Queue.get times exactly these."""
    block = t > 0
    deadline = time.monotonic() + t if block else None
    if not q._rlock.acquire(block, t if block else None):
        raise queue.Empty
    try:
        if not q._poll(max(deadline - time.monotonic(), 0) if block else 0):
            raise queue.Empty
        res = q._reader.recv_bytes()
    finally:
        q._rlock.release()
    return reduction.ForkingPickler.loads(res)


def _get(q, a, _):
    t = _seconds(a)
    if isinstance(q, queues.SimpleQueue):
        return {"blob": q.get() if t is None else _simple_get(q, t)}
    if t is None:
        item = q.get()
    elif t == 0:
        item = q.get(False)
    else:
        item = q.get(True, t)
    return {"blob": item}


def _join(q, a, _):
    join, t = q.join, _seconds(a)
    if t is None:
        join()
    elif t == 0:
        with q._cond:
            if not q._unfinished_tasks._semlock._is_zero():
                raise _Fail("timeout", "unfinished tasks")
    else:
        waiter = threading.Thread(target=join, name="ipcc-join", daemon=True)
        waiter.start()
        waiter.join(t)
        if waiter.is_alive():
            raise _Fail("timeout", "unfinished tasks")


_QUEUE = {
    "put": lambda q, a, blob: _put(q, a, bytes(blob)),
    "put_unencodable": lambda q, a, _: _put(q, a, _Unpicklable()),
    "get": _get,
    "qsize": lambda q, a, _: {"value": q.qsize()},
    "empty": lambda q, a, _: {"value": q.empty()},
    "full": lambda q, a, _: {"value": q.full()},
    "task_done": lambda q, a, _: q.task_done(),
    "join": _join,
    "close": lambda q, a, _: q.close(),
    "cancel_join_thread": lambda q, a, _: q.cancel_join_thread(),
}


def _acquire(lock, a):
    t = _seconds(a)
    if t is None:
        taken = lock.acquire()
    elif t == 0:
        taken = lock.acquire(False)
    else:
        taken = lock.acquire(True, t)
    if not taken:
        raise _Fail("timeout", "still held")


def _acquire_lock(lock, a, _):
    _acquire(lock, a)
    return {"value": {"previous_owner_died": False}}  # CPython never learns of a dead holder


_LOCK = {
    "acquire": _acquire_lock,
    "release": lambda l, a, _: l.release(),
}

_SEMAPHORE = {
    "acquire": lambda s, a, _: _acquire(s, a),
    "release": lambda s, a, _: s.release(),
    "get_value": lambda s, a, _: {"value": s.get_value()},
}

_EVENT = {
    "set": lambda e, a, _: e.set(),
    "clear": lambda e, a, _: e.clear(),
    "is_set": lambda e, a, _: {"value": e.is_set()},
    "wait": lambda e, a, _: {"value": e.wait(_seconds(a))},
}

_CONDITION = {
    "acquire": _acquire_lock,
    "release": lambda c, a, _: c.release(),
    "wait": lambda c, a, _: {"value": c.wait(_seconds(a))},
    "notify": lambda c, a, _: c.notify(a.get("n", 1)),
    "notify_all": lambda c, a, _: c.notify_all(),
}

_BARRIER = {
    "wait": lambda b, a, _: {"value": b.wait(_seconds(a))},
    "reset": lambda b, a, _: b.reset(),
    "abort": lambda b, a, _: b.abort(),
    "n_waiting": lambda b, a, _: {"value": b.n_waiting},
    "broken": lambda b, a, _: {"value": b.broken},
}


def _methods(obj):
    if isinstance(obj, Connection):
        return _PIPE
    if isinstance(obj, (queues.Queue, queues.SimpleQueue)):
        return _QUEUE
    if isinstance(obj, synchronize.Condition):
        return _CONDITION
    if isinstance(obj, synchronize.Event):
        return _EVENT
    if isinstance(obj, synchronize.Barrier):
        return _BARRIER
    if isinstance(obj, (synchronize.Lock, synchronize.RLock)):
        return _LOCK
    return _SEMAPHORE


def _make(ctx, req):
    kind = req.get("kind")
    if kind == "pipe":
        return list(ctx.Pipe(duplex=req.get("duplex", True)))
    if kind == "queue":
        queue_kind, maxsize = req.get("queue_kind", "queue"), req.get("maxsize", 0)
        if queue_kind == "queue":
            return [ctx.Queue(maxsize)]
        if queue_kind == "joinable_queue":
            return [ctx.JoinableQueue(maxsize)]
        if queue_kind == "simple_queue":
            return [ctx.SimpleQueue() if maxsize == 0 else ctx.SimpleQueue(maxsize)]
    if kind == "lock" or kind == "condition":
        lock_kind = req.get("lock_kind", "lock" if kind == "lock" else "rlock")
        lock = {"lock": ctx.Lock, "rlock": ctx.RLock}.get(lock_kind)
        if lock is not None:
            return [lock() if kind == "lock" else ctx.Condition(lock())]
    if kind == "semaphore":
        semaphore_kind = req.get("semaphore_kind", "semaphore")
        make = {"semaphore": ctx.Semaphore, "bounded_semaphore": ctx.BoundedSemaphore}.get(semaphore_kind)
        if make is not None:
            return [make(req.get("value", 1))]
    if kind == "event":
        return [ctx.Event()]
    if kind == "barrier":
        return [ctx.Barrier(req.get("parties", 2))]
    raise _Fail("unsupported", f"no such kind: {req}")


# --- spawn hand-over of closed connections ----------------------------------------------------

def _closed_connection(readable, writable):
    conn = Connection.__new__(Connection)
    conn._handle, conn._readable, conn._writable = None, readable, writable
    return conn


def _reduce_connection(conn):
    if conn.closed:
        return _closed_connection, (conn.readable, conn.writable)
    return reduce_connection(conn)


reduction.register(Connection, _reduce_connection)


# --- the channel ------------------------------------------------------------------------------

class Channel:
    """One session's socket: JSON lines, raw blobs after them, descriptors collected."""

    def __init__(self, sock):
        self.sock = sock
        self._buffer = bytearray()
        self._fds = []

    def _collect(self, ancillary):
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
                self._fds.extend(fds)

    def read_line(self):
        """The next line without its newline, or None at end of file."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[:end + 1]
                return line
            data, ancillary, _, _ = self.sock.recvmsg(_CHUNK, _ANCILLARY, socket.MSG_CMSG_CLOEXEC)
            self._collect(ancillary)
            if not data:
                return None
            self._buffer += data

    def read_blob(self, size):
        """The next `size` bytes, or None at end of file."""
        blob = bytearray(size)
        have = min(size, len(self._buffer))
        blob[:have] = self._buffer[:have]
        del self._buffer[:have]
        view = memoryview(blob)
        while have < size:
            n, ancillary, _, _ = self.sock.recvmsg_into([view[have:]], _ANCILLARY, socket.MSG_CMSG_CLOEXEC)
            self._collect(ancillary)
            if n == 0:
                return None
            have += n
        return blob

    def take_fds(self):
        fds, self._fds = self._fds, []
        return fds

    def write(self, message, blob=None):
        if blob is not None:
            message["blob"] = len(blob)
        head = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        if blob is None:
            self.sock.sendall(head)
        elif len(blob) <= _CHUNK:
            self.sock.sendall(head + bytes(blob))
        else:
            self.sock.sendall(head)
            self.sock.sendall(blob)


# --- the watcher ------------------------------------------------------------------------------

class Watcher:
    """Kills this process when its channel's peer is gone before `end`; reaps child twins."""

    def __init__(self, sock):
        self._sockfd = sock.fileno()
        self._wake_r, self._wake_w = os.pipe()
        self._adopted = []
        self._pidfds = {}
        self.ended = False
        threading.Thread(target=self._run, name="ipcc-watcher", daemon=True).start()

    def adopt(self, process):
        self._adopted.append(process)
        os.write(self._wake_w, b"\0")

    def abandon(self):
        """In a fork child: closes the descriptors this (parent's) watcher held."""
        for fd in (self._wake_r, self._wake_w, *self._pidfds):
            try:
                os.close(fd)
            except OSError:
                pass

    def _run(self):
        poller = select.poll()
        poller.register(self._sockfd, select.POLLRDHUP)
        poller.register(self._wake_r, select.POLLIN)
        while True:
            for fd, _ in poller.poll():
                if fd == self._sockfd:
                    if not self.ended:
                        _die()
                    poller.unregister(fd)
                elif fd == self._wake_r:
                    os.read(fd, 512)
                    while self._adopted:
                        process = self._adopted.pop()
                        try:
                            pidfd = os.pidfd_open(process.pid)
                        except OSError:
                            continue
                        # Insert after open and pop before close: a fork child never closes an
                        # fd number that was reused meanwhile.
                        self._pidfds[pidfd] = process
                        poller.register(pidfd, select.POLLIN)
                else:
                    process = self._pidfds.pop(fd)
                    poller.unregister(fd)
                    os.close(fd)
                    process.exitcode  # reaps through multiprocessing's Popen, which keeps the status


# --- the session ------------------------------------------------------------------------------

class Session:
    """Serves one channel: this process's object table and its request loop."""

    def __init__(self, start_method, sock, objects, next_n):
        global _SESSION
        self.start_method = start_method
        self.ctx = multiprocessing.get_context(start_method)
        self.channel = Channel(sock)
        self.objects = objects
        self.next_n = next_n
        self.watcher = Watcher(sock)
        _SESSION = self

    def abandon(self):
        """In a fork child: lets go of this (parent's) session's channel."""
        self.watcher.abandon()
        self.channel.sock.close()

    def serve(self):
        """Serves requests until `end` (returns) or end of file (dies)."""
        channel = self.channel
        while True:
            try:
                line = channel.read_line()
                if line is None:
                    _die()
                try:
                    req = json.loads(line)
                    rid, op = req["id"], req["op"]
                    args = req.get("args") or {}
                    size = req.get("blob")
                    if not isinstance(args, dict) or not (size is None or (isinstance(size, int) and size >= 0)):
                        raise ValueError("args must be an object and blob a byte count")
                except (ValueError, KeyError, TypeError) as e:
                    _log(f"malformed request {line[:200]!r}: {e}")
                    os._exit(2)
                # A request without a blob carries zero bytes (an empty message or item).
                blob = channel.read_blob(size) if size is not None else bytearray()
                if blob is None:
                    _die()
                fds = channel.take_fds()
                if op == "end":
                    for fd in fds:
                        os.close(fd)
                    self.watcher.ended = True
                    return
                channel.write(*self._reply(rid, op, req, args, blob, fds))
            except OSError as e:  # the channel itself failed: its peer is gone
                _log(f"channel: {e}")
                _die()

    def _reply(self, rid, op, req, args, blob, fds):
        try:
            if op == "twin":
                members = self._twin(fds)
            else:
                for fd in fds:
                    os.close(fd)
                members = self._op(op, req, args, blob) or {}
        except Exception as e:
            if isinstance(e, _Fail):
                code, native, detail, carried = e.errc, e.native, e.detail, e.blob
            else:
                (code, native), detail, carried = _errc(e), f"{type(e).__name__}: {e}", None
            return {"id": rid, "ok": False, "error": code, "native": native, "detail": detail}, carried
        out = members.pop("blob", None)
        return {"id": rid, "ok": True, **members}, out

    def _op(self, op, req, args, blob):
        if op == "hello":
            if req.get("protocol") != PROTOCOL:
                raise _Fail("unsupported", f"protocol {req.get('protocol')}; this agent speaks {PROTOCOL}")
            return {"protocol": PROTOCOL, "agent": AGENT,
                    "language": f"CPython {platform.python_version()}", "capabilities": _capabilities()}
        if op == "make":
            ids = []
            for obj in _make(self.ctx, req):
                oid = (os.getpid() << 24) | self.next_n
                self.next_n += 1
                self.objects[oid] = obj
                ids.append(oid)
            return {"objects": ids}
        if op == "call":
            obj = self._object(req)
            handler = _methods(obj).get(req.get("method"))
            if handler is None:
                raise _Fail("unsupported", f"no method {req.get('method')!r} on {type(obj).__name__}")
            return handler(obj, args, blob)
        if op == "drop":
            obj = self._object(req)
            del self.objects[req["obj"]]
            if isinstance(obj, Connection) or isinstance(obj, queues.SimpleQueue):
                obj.close()
            elif isinstance(obj, queues.Queue):
                obj.close()
                obj.join_thread()  # a no-op after cancel_join_thread(), as at a process's end
            return None
        raise _Fail("unsupported", f"no op {op!r}")

    def _object(self, req):
        obj = self.objects.get(req.get("obj"))
        if obj is None:
            raise _Fail("invalid_argument", f"no object {req.get('obj')!r} in process {os.getpid()}")
        return obj

    def _twin(self, fds):
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise _Fail("invalid_argument", f"twin needs one descriptor, got {len(fds)}")
        sock = socket.socket(fileno=fds[0])
        ready_r, ready_w = self.ctx.Pipe(duplex=False)
        try:
            process = self.ctx.Process(target=_twin_main, name="ipcc-twin",
                                       args=(self.objects, sock, self.next_n, self.start_method, ready_w))
            process.start()
        finally:
            sock.close()  # the child has its own copy now
            ready_w.close()
        self.watcher.adopt(process)
        # Under spawn the child rebuilds every object from its pickle, and a SemLock is rebuilt by
        # name: the name is unlinked when this process's last copy goes, which may be the next
        # request. So reply only once the child has its objects, as a careful user keeps a
        # resource alive until the child has it.
        with ready_r:
            arrived = multiprocessing.connection.wait([ready_r, process.sentinel], _TWIN_START_LIMIT)
            if ready_r not in arrived:
                raise _Fail("broken", f"twin {process.pid} did not start (exit code {process.exitcode})")
            ready_r.recv_bytes()
        return {"pid": process.pid}


def _twin_main(objects, sock, next_n, start_method, ready):
    """The Process target of a child twin: serves `sock` until `end`, then returns."""
    if _SESSION is not None:  # fork: the parent's session came along
        _SESSION.abandon()
    ready.send_bytes(b"")
    ready.close()
    Session(start_method, sock, objects, next_n).serve()


def _channel_from_stdio():
    """The root's channel, moved off fds 0 and 1, which become /dev/null."""
    sock = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    return sock


def main(argv=None):
    parser = argparse.ArgumentParser(description="The CPython agent of the ipcc agent protocol.")
    parser.add_argument("--start-method", choices=("fork", "spawn"), required=True)
    options = parser.parse_args(argv)
    Session(options.start_method, _channel_from_stdio(), {}, 1).serve()


if __name__ == "__main__":
    main()
