"""Tests of ipcc_agent.py over a socketpair, as the C++ adapter drives it.

Run: /usr/bin/python3 -m unittest discover -s adapters/agent/cpython -p 'test_*.py'

Every agent started here carries a tag in its environment, which its descendants inherit
(fork and spawn children, multiprocessing's resource tracker), so a test can check that nothing
is left behind. Nothing sleeps to synchronise: waits poll a condition under a deadline.

The agents' stderr (CPython's feeder tracebacks for unpicklable items, the resource tracker's
warnings after kills) goes to a file per test; IPCC_AGENT_LOG=1 prints it, and the time a twin
took to start.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT = os.path.join(HERE, "ipcc_agent.py")
PYTHON = "/usr/bin/python3"
TAG_NAME = "IPCC_AGENT_TEST_TAG"
DEADLINE_S = 10.0


def wait_until(predicate, what, deadline_s=DEADLINE_S):
    end = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)  # polling interval, not synchronisation


def pid_gone(pid):
    return not os.path.exists(f"/proc/{pid}")


def tagged_pids(tag):
    found = []
    needle = f"{TAG_NAME}={tag}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            pass
    return found


class Client:
    """One session: requests out, replies (line and blob) in."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(DEADLINE_S)
        self.reader = sock.makefile("rb")
        self.next_id = 1

    def send(self, op, fd=None, blob=None, **members):
        rid, self.next_id = self.next_id, self.next_id + 1
        message = {"id": rid, "op": op, **members}
        if blob is not None:
            message["blob"] = len(blob)
        line = json.dumps(message).encode() + b"\n"
        if fd is None:
            self.sock.sendall(line)
        else:
            socket.send_fds(self.sock, [line], [fd])
        if blob:
            self.sock.sendall(blob)
        return rid

    def receive(self, rid):
        reply = json.loads(self.reader.readline())
        assert reply["id"] == rid, reply
        blob = self.reader.read(reply["blob"]) if "blob" in reply else None
        return reply, blob

    def request(self, op, **members):
        return self.receive(self.send(op, **members))

    def ok(self, op, **members):
        reply, blob = self.request(op, **members)
        assert reply["ok"], reply
        return reply, blob

    def make(self, kind, **options):
        return self.ok("make", kind=kind, **options)[0]["objects"]

    def call(self, obj, method, blob=None, **args):
        return self.request("call", obj=obj, method=method, args=args, blob=blob)

    def value(self, obj, method, **args):
        reply, _ = self.call(obj, method, **args)
        assert reply["ok"], reply
        return reply.get("value")

    def error(self, obj, method, blob=None, **args):
        reply, carried = self.call(obj, method, blob=blob, **args)
        assert not reply["ok"], reply
        return reply["error"], carried

    def twin(self):
        mine, theirs = socket.socketpair()
        try:
            reply, _ = self.request("twin", fd=theirs.fileno())
        finally:
            theirs.close()
        assert reply["ok"], reply
        return Client(mine), reply["pid"]

    def close(self):
        self.reader.close()
        self.sock.close()


class AgentCase(unittest.TestCase):
    start_method = "fork"

    def setUp(self):
        self.tag = uuid.uuid4().hex
        mine, theirs = socket.socketpair()
        self.channel_inode = os.fstat(theirs.fileno()).st_ino
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [PYTHON, AGENT, f"--start-method={self.start_method}"], stdin=theirs, stdout=theirs,
            stderr=self.log, env={**os.environ, TAG_NAME: self.tag})
        theirs.close()
        self.root = Client(mine)

    def tearDown(self):
        self.root.close()
        try:
            self.proc.wait(DEADLINE_S)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        wait_until(lambda: not tagged_pids(self.tag), "every agent process to end")
        if os.environ.get("IPCC_AGENT_LOG") == "1":
            self.log.seek(0)
            sys.stderr.write(self.log.read().decode(errors="replace"))
        self.log.close()

    def end(self, client):
        client.send("end")
        self.assertEqual(client.reader.read(), b"", "end must bring end of file, and no reply")


class Basics(AgentCase):
    def test_hello(self):
        reply, _ = self.root.ok("hello", protocol=1)
        self.assertEqual(reply["protocol"], 1)
        self.assertTrue(reply["language"].startswith("CPython 3."))
        caps = reply["capabilities"]
        self.assertEqual(caps["pipe"]["duplex_close_with_unread"], "connection_reset")
        self.assertEqual(caps["queue"]["serialization_failure"], "dropped_silently")
        self.assertEqual(caps["queue"]["unconsumed_exit"], "waits_for_consumers")
        self.assertEqual(caps["sync"]["max_semaphore_value"], 2147483647)
        self.assertEqual(caps["sync"]["lock_owner_death"], "stays_held")
        self.end(self.root)
        self.assertEqual(self.proc.wait(DEADLINE_S), 0)

    def test_pipes(self):
        for duplex in (False, True):
            first, second = self.root.make("pipe", duplex=duplex)
            self.assertFalse(self.root.value(first, "poll", timeout_ns=0))
            self.root.value(second, "send_bytes", offset=2, size=3, blob=b"abcdefg")
            self.assertTrue(self.root.value(first, "poll", timeout_ns=None))
            self.assertEqual(self.root.call(first, "recv_bytes", maxlength=None, timeout_ns=None)[1], b"cde")
            self.root.value(second, "send_bytes", blob=b"")
            self.assertEqual(self.root.call(first, "recv_bytes", maxlength=None, timeout_ns=10**9)[1], b"")
            self.root.value(second, "send_bytes", blob=b"xyz")
            reply, blob = self.root.call(first, "recv_bytes_into", length=8, offset=5, timeout_ns=0)
            self.assertEqual((reply["value"], blob), (3, b"xyz"))

    def test_large_message_round_trip(self):
        for duplex in (False, True):
            first, second = self.root.make("pipe", duplex=duplex)
            twin, _ = self.root.twin()
            big = os.urandom(3 << 20)  # far beyond any pipe buffer: sender and receiver overlap
            receiver = twin.send("call", obj=first, method="recv_bytes", args={"maxlength": None, "timeout_ns": None})
            self.root.value(second, "send_bytes", blob=big)
            reply, blob = twin.receive(receiver)
            self.assertTrue(reply["ok"], reply)
            self.assertEqual(blob, big)
            self.end(twin)
            twin.close()

    def test_queues(self):
        for kind in ("queue", "simple_queue", "joinable_queue"):
            (q,) = self.root.make("queue", queue_kind=kind, maxsize=0)
            self.assertTrue(self.root.value(q, "empty"))
            self.root.value(q, "put", timeout_ns=0, blob=b"item")
            wait_until(lambda: not self.root.value(q, "empty"), "the item to be visible")
            self.assertEqual(self.root.call(q, "get", timeout_ns=None)[1], b"item")
            if kind == "simple_queue":
                self.assertEqual(self.root.error(q, "qsize")[0], "unsupported")
                self.assertEqual(self.root.error(q, "get", timeout_ns=0)[0], "empty")
                self.assertEqual(self.root.error(q, "get", timeout_ns=10**6)[0], "empty")
                self.root.value(q, "put", timeout_ns=0, blob=b"timed")
                self.assertEqual(self.root.call(q, "get", timeout_ns=10**9)[1], b"timed")
                self.assertEqual(self.root.error(q, "put_unencodable", timeout_ns=None)[0], "serialization_failed")
            else:
                self.assertEqual(self.root.value(q, "qsize"), 0)
                self.assertFalse(self.root.value(q, "full"))
                self.assertEqual(self.root.error(q, "get", timeout_ns=0)[0], "empty")
                self.assertEqual(self.root.error(q, "get", timeout_ns=10**6)[0], "empty")
                self.root.value(q, "put_unencodable", timeout_ns=None)  # CPython's feeder drops it
            if kind == "joinable_queue":
                # The dropped item counts as unfinished too: CPython counts puts, not deliveries.
                self.assertEqual(self.root.error(q, "join", timeout_ns=0)[0], "timeout")
                self.root.value(q, "task_done")
                self.root.value(q, "task_done")
                self.root.value(q, "join", timeout_ns=0)
                self.root.value(q, "put", timeout_ns=None, blob=b"task")
                self.assertEqual(self.root.error(q, "join", timeout_ns=0)[0], "timeout")
                self.assertEqual(self.root.error(q, "join", timeout_ns=10**6)[0], "timeout")
                self.root.value(q, "task_done")
                self.root.value(q, "join", timeout_ns=10**9)
                self.assertEqual(self.root.error(q, "task_done")[0], "too_many_task_done")
            else:
                self.assertEqual(self.root.error(q, "task_done")[0], "unsupported")
                self.assertEqual(self.root.error(q, "join", timeout_ns=0)[0], "unsupported")
            self.root.value(q, "close")
            self.assertEqual(self.root.error(q, "put", timeout_ns=0, blob=b"late")[0], "closed")
            self.root.ok("drop", obj=q)
        (q,) = self.root.make("queue", queue_kind="queue", maxsize=1)
        self.root.value(q, "put", timeout_ns=0, blob=b"one")
        self.assertEqual(self.root.error(q, "put", timeout_ns=0, blob=b"two")[0], "full")
        self.assertEqual(self.root.error(q, "put", timeout_ns=10**6, blob=b"two")[0], "full")
        self.assertTrue(self.root.value(q, "full"))

    def test_sync(self):
        for kind in ("lock", "rlock"):
            (lock,) = self.root.make("lock", lock_kind=kind)
            self.assertEqual(self.root.value(lock, "acquire", timeout_ns=None), {"previous_owner_died": False})
            if kind == "lock":
                self.assertEqual(self.root.error(lock, "acquire", timeout_ns=0)[0], "timeout")
                self.assertEqual(self.root.error(lock, "acquire", timeout_ns=10**6)[0], "timeout")
            else:
                self.root.value(lock, "acquire", timeout_ns=0)
                self.root.value(lock, "release")
            self.root.value(lock, "release")
        (sem,) = self.root.make("semaphore", semaphore_kind="semaphore", value=1)
        self.root.value(sem, "acquire", timeout_ns=0)
        self.assertEqual(self.root.error(sem, "acquire", timeout_ns=10**6)[0], "timeout")
        self.root.value(sem, "release")
        self.root.value(sem, "release")
        self.assertEqual(self.root.value(sem, "get_value"), 2)
        (bounded,) = self.root.make("semaphore", semaphore_kind="bounded_semaphore", value=1)
        self.assertEqual(self.root.error(bounded, "release")[0], "released_too_many_times")
        (event,) = self.root.make("event")
        self.assertFalse(self.root.value(event, "wait", timeout_ns=0))
        self.root.value(event, "set")
        self.assertTrue(self.root.value(event, "is_set"))
        self.assertTrue(self.root.value(event, "wait", timeout_ns=None))
        self.root.value(event, "clear")
        self.assertFalse(self.root.value(event, "wait", timeout_ns=10**6))
        for kind in ("lock", "rlock"):
            (cond,) = self.root.make("condition", lock_kind=kind)
            self.assertEqual(self.root.error(cond, "wait", timeout_ns=0)[0], "not_owner")
            self.assertEqual(self.root.error(cond, "notify", n=1)[0], "not_owner")
            self.root.value(cond, "acquire", timeout_ns=None)
            self.root.value(cond, "notify", n=-1)  # CPython accepts it silently
            self.root.value(cond, "notify_all")
            self.assertFalse(self.root.value(cond, "wait", timeout_ns=10**6))
            self.root.value(cond, "release")
        (barrier,) = self.root.make("barrier", parties=1)
        self.assertEqual(self.root.value(barrier, "wait", timeout_ns=None), 0)
        (barrier,) = self.root.make("barrier", parties=2)
        self.assertEqual(self.root.value(barrier, "n_waiting"), 0)
        self.assertEqual(self.root.error(barrier, "wait", timeout_ns=10**6)[0], "broken")
        self.assertTrue(self.root.value(barrier, "broken"))
        self.root.value(barrier, "reset")
        self.root.value(barrier, "abort")
        self.assertEqual(self.root.error(barrier, "wait", timeout_ns=None)[0], "broken")

    def test_errors(self):
        first, second = self.root.make("pipe", duplex=False)
        self.assertEqual(self.root.error(first, "recv_bytes", maxlength=None, timeout_ns=0)[0], "timeout")
        self.assertEqual(self.root.error(first, "send_bytes", blob=b"x")[0], "wrong_direction")
        self.assertEqual(self.root.error(second, "poll", timeout_ns=0)[0], "wrong_direction")
        self.assertEqual(self.root.error(second, "send_bytes", offset=-1, blob=b"x")[0], "invalid_argument")
        self.assertEqual(self.root.error(first, "recv_bytes", maxlength=-1, timeout_ns=0)[0], "invalid_argument")
        self.assertEqual(self.root.error(first, "recv_bytes_into", length=4, offset=5, timeout_ns=0)[0],
                         "invalid_argument")
        self.root.value(second, "send_bytes", blob=b"too long for four")
        code, carried = self.root.error(first, "recv_bytes_into", length=4, offset=0, timeout_ns=None)
        self.assertEqual((code, carried), ("buffer_too_short", b"too long for four"))
        self.root.value(second, "send_bytes", blob=b"0123456789")
        self.assertEqual(self.root.error(first, "recv_bytes", maxlength=4, timeout_ns=None)[0], "message_too_large")
        self.assertEqual(self.root.error(first, "poll", timeout_ns=0)[0], "closed")  # CPython closed it

        first, second = self.root.make("pipe", duplex=False)
        self.root.value(second, "send_bytes", blob=b"last")
        self.root.value(second, "close")
        self.root.value(second, "close")
        self.assertEqual(self.root.error(second, "send_bytes", blob=b"x")[0], "closed")
        self.assertEqual(self.root.call(first, "recv_bytes", maxlength=None, timeout_ns=None)[1], b"last")
        self.assertEqual(self.root.error(first, "recv_bytes", maxlength=None, timeout_ns=None)[0], "eof")
        self.assertEqual(self.root.error(first, "recv_bytes", maxlength=None, timeout_ns=0)[0], "eof")

        first, second = self.root.make("pipe", duplex=False)
        self.root.value(first, "close")
        reply, _ = self.root.call(second, "send_bytes", blob=b"x")
        self.assertEqual((reply["error"], reply["native"]), ("broken_pipe", 32))

        a, b = self.root.make("pipe", duplex=True)
        self.root.value(a, "send_bytes", blob=b"unread by b")
        self.root.value(b, "send_bytes", blob=b"for a")
        self.root.value(b, "close")
        self.assertEqual(self.root.call(a, "recv_bytes", maxlength=None, timeout_ns=None)[1], b"for a")
        self.assertEqual(self.root.error(a, "recv_bytes", maxlength=None, timeout_ns=None)[0], "connection_reset")

        (lock,) = self.root.make("lock", lock_kind="lock")
        self.assertEqual(self.root.error(lock, "release")[0], "released_too_many_times")
        (rlock,) = self.root.make("lock", lock_kind="rlock")
        self.assertEqual(self.root.error(rlock, "release")[0], "not_owner")

        for options in ({"kind": "semaphore", "semaphore_kind": "semaphore", "value": -1},
                        {"kind": "semaphore", "semaphore_kind": "semaphore", "value": 2**31},
                        {"kind": "queue", "queue_kind": "queue", "maxsize": 2**31},
                        {"kind": "queue", "queue_kind": "simple_queue", "maxsize": 5}):
            reply, _ = self.root.request("make", **options)
            self.assertEqual(reply["error"], "invalid_argument", options)
        self.assertEqual(self.root.request("make", kind="barrier", parties=0)[0]["ok"], True)  # as CPython
        self.assertEqual(self.root.request("frobnicate")[0]["error"], "unsupported")
        self.assertEqual(self.root.error(lock, "frobnicate")[0], "unsupported")


class Twins(AgentCase):
    def test_twin_holds_what_the_parent_held(self):
        first, second = self.root.make("pipe", duplex=False)
        (q,) = self.root.make("queue", queue_kind="queue", maxsize=0)
        (lock,) = self.root.make("lock", lock_kind="lock")
        start = time.monotonic()
        twin, pid = self.root.twin()
        started = time.monotonic()
        twin.ok("hello", protocol=1)
        serving = time.monotonic()
        self.assertFalse(pid_gone(pid))
        receiver = twin.send("call", obj=first, method="recv_bytes", args={"maxlength": None, "timeout_ns": None})
        self.root.value(second, "send_bytes", blob=b"across")
        reply, blob = twin.receive(receiver)
        self.assertEqual(blob, b"across")
        self.root.value(lock, "acquire", timeout_ns=None)
        self.assertEqual(twin.error(lock, "acquire", timeout_ns=0)[0], "timeout")
        twin.value(lock, "release")  # any process may release a Lock
        self.root.value(lock, "acquire", timeout_ns=0)
        twin.value(q, "put", timeout_ns=None, blob=b"from the twin")
        self.assertEqual(self.root.call(q, "get", timeout_ns=10**10)[1], b"from the twin")
        (own,) = twin.make("event")
        self.assertNotIn(own, (first, second, q, lock))
        self.assertNoForeignChannel(pid)
        self.end(twin)
        wait_until(lambda: pid_gone(pid), "the ended twin to be reaped")
        twin.close()
        if os.environ.get("IPCC_AGENT_LOG") == "1":
            print(f"\n  {self.start_method} twin: reply after {1e3 * (started - start):.1f} ms, "
                  f"serving after {1e3 * (serving - start):.1f} ms", file=sys.stderr)

    def assertNoForeignChannel(self, pid):
        fds = os.listdir(f"/proc/{pid}/fd")
        targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in fds]
        self.assertNotIn(f"socket:[{self.channel_inode}]", targets, "a twin holds the root's channel")
        self.assertEqual(os.readlink(f"/proc/{pid}/fd/0"), "/dev/null")
        self.assertEqual(os.readlink(f"/proc/{pid}/fd/1"), "/dev/null")

    def test_drop_flushes(self):
        (q,) = self.root.make("queue", queue_kind="queue", maxsize=0)
        (large,) = self.root.make("queue", queue_kind="queue", maxsize=0)
        twin, _ = self.root.twin()
        twin.value(q, "put", timeout_ns=None, blob=b"small")
        twin.ok("drop", obj=q)
        # The drop returned, so the item is in the pipe: a try-once get finds it.
        self.assertEqual(self.root.call(q, "get", timeout_ns=0)[1], b"small")
        # An item the pipe cannot hold: the drop waits until the root takes it.
        grandchild, _ = twin.twin()
        big = os.urandom(1 << 20)
        grandchild.value(large, "put", timeout_ns=None, blob=big)
        dropping = grandchild.send("drop", obj=large)
        self.assertEqual(self.root.call(large, "get", timeout_ns=None)[1], big)
        self.assertTrue(grandchild.receive(dropping)[0]["ok"])
        for client in (grandchild, twin):
            self.end(client)
            client.close()

    def test_end_flushes(self):
        (q,) = self.root.make("queue", queue_kind="queue", maxsize=0)
        twin, pid = self.root.twin()
        twin.value(q, "put", timeout_ns=None, blob=b"flushed at the end")
        self.end(twin)
        twin.close()
        self.assertEqual(self.root.call(q, "get", timeout_ns=0)[1], b"flushed at the end")

    def test_eof_kills_blocked_twins(self):
        (lock,) = self.root.make("lock", lock_kind="lock")
        self.root.value(lock, "acquire", timeout_ns=None)
        twin, pid = self.root.twin()
        grandchild, grand_pid = twin.twin()
        grandchild.send("call", obj=lock, method="acquire", args={"timeout_ns": None})
        twin.send("call", obj=lock, method="acquire", args={"timeout_ns": None})
        wait_until(lambda: self.blocked(pid) and self.blocked(grand_pid), "the twins to block")
        grandchild.close()
        wait_until(lambda: pid_gone(grand_pid), "the grandchild twin to die and be reaped")
        self.assertFalse(pid_gone(pid))
        twin.close()
        wait_until(lambda: pid_gone(pid), "the child twin to die and be reaped")
        self.root.close()
        self.assertEqual(self.proc.wait(DEADLINE_S), -9)

    @staticmethod
    def blocked(pid):
        """The main thread sleeps in the semaphore (a futex), not in reading its channel."""
        with open(f"/proc/{pid}/wchan") as f:
            return "futex" in f.read()


class SpawnTwins(Twins):
    start_method = "spawn"


if __name__ == "__main__":
    unittest.main()
