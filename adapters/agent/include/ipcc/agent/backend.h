// ipcc/agent/backend.h: the adapter that runs the suite against an
// out-of-process agent (adapters/agent/PROTOCOL.md), such as CPython's
// multiprocessing agent in adapters/agent/cpython/.
//
// What: a Backend whose primitives forward every call to an agent process,
// the "twin" of the calling process, where the implementation's own objects
// live and its calls really run. The test process starts the root agent the
// first time it needs it (at the latest in capabilities()). When a process
// that holds primitives forks, its twin starts a child twin the way the
// implementation starts processes (before the fork returns, so the child
// twin holds exactly what the parent held at that instant), and the forked
// child talks to that one. A forked child that holds no primitive starts a
// root agent of its own if it makes one.
//
// Process ends: a child process whose last primitive is destroyed ends its
// twin normally and waits until the twin has ended (CPython flushes its
// queues there), so the C++ process ends when the implementation's process
// would. A C++ process that dies (killed, _exit with primitives alive) takes
// its twin with it: the agent kills itself when its channel closes without
// an `end` request.
//
// Capabilities: the agent's, from its `hello`, except `spawn`, which is
// false: a primitive cannot be exported to an exec'd C++ process. The
// implementation's own start method is part of the agent's command line
// (cpython-fork, cpython-spawn).
//
// "Blocked" and "ended": delegate_processes() names the calling process's
// twin, so the harness judges a worker blocked only while the worker and its
// twin both sleep, and ended only once its twin is gone too.
//
// State changes by the runtime: after a failed Connection call the adapter
// asks the agent how the end now is (closed, readable, writable), since a
// runtime may change it itself (CPython closes a simplex end on a too-long
// message).
//
// Errors: a reply's error is the operation's error; an agent that ends, or
// a reply that is malformed, makes the operation fail with errc::broken
// (the detail says what went wrong).
//
// Safety: as any Backend: one thread; fork with no other thread running.
// Registers pthread_atfork handlers the first time a backend is made.
#ifndef IPCC_AGENT_BACKEND_H_
#define IPCC_AGENT_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "ipcc/backend.h"

namespace ipcc::agent {

struct AgentOptions {
  // The adapter's name in reports ("cpython-fork").
  std::string name;
  // The agent's command line; argv[0] is an absolute path (no PATH lookup).
  std::vector<std::string> command;
};

// The backend for `options`. Starts nothing until first needed.
std::unique_ptr<Backend> make_backend(AgentOptions options);

// The CPython multiprocessing agent under `start_method` ("fork" or
// "spawn"): Debian's /usr/bin/python3 (or $IPCC_PYTHON) running the bundled
// ipcc_agent.py (or $IPCC_CPYTHON_AGENT). Named "cpython-<start_method>".
std::unique_ptr<Backend> make_cpython_backend(const std::string& start_method);

}  // namespace ipcc::agent

#endif  // IPCC_AGENT_BACKEND_H_
