# The prewarmed executor's template: an interpreter that imports the preload modules once and then
# forks one child per execution (forked.py). The service (function/sandbox/prewarmed/
# template-process.ts) starts it as root, directly or through the set-user-ID launcher. Its
# environment is a fresh runner's minus the per-execution variables, and its command line is
#     /usr/bin/python3 -I -B /opt/codejail/runner/template.py CONFIG_JSON
# While still root it makes its directories and binds its unix socket, which only the service's
# user may connect to (template_start.py). It then switches to its own uid with only CAP_SETUID
# and CAP_SETGID (privileges.py), which a seccomp filter limits to the pool's ids
# (identity_filter.py), preloads, and serves. It holds no secret and never reads user
# input.
#
# Protocol, in sync with function/sandbox/prewarmed/template-process.ts:
# - stdout carries JSON lines for the service: {"ready": true, ...} once (or {"startup_error"}),
#   then per child {"exec_id", "pid"} or {"exec_id", "error"} when it forked or failed to,
#   and {"exec_id", "status"} once the child was reaped: its exit code, or minus the signal.
# - stdin stays open while the service wants the template; at its end the template exits, and
#   children still running are unaffected.
# - per child the service opens three connections, each starting with one JSON header line
#   {"exec_id", "role"}: "main" (stdin and stdout), "stderr", and "result" (fd 3). The template
#   forks once all three are in. A connection that becomes readable before the fork aborts it.
# - the child waits, still under the template's uid, for its execution on the main connection
#   (forked.read_execution): uid, gid, directory, environment and runner configuration. So the
#   service can fork children ahead of requests. A child whose main connection ends first exits.

import ctypes
import gc
import json
import os
import selectors
import socket
import sys
import time
from typing import Any, NoReturn

# -I keeps this folder off sys.path. It is added for these imports only, and
# runner.import_runner_modules hides the modules from the user's code afterwards.
RUNNER_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, RUNNER_DIR)
import forked  # noqa: E402
import identity_filter  # noqa: E402
import privileges  # noqa: E402
import runner  # noqa: E402
import template_start as start  # noqa: E402
from template_start import send  # noqa: E402

sys.path.remove(RUNNER_DIR)

ROLES = ("main", "stderr", "result")
MAX_HEADER_BYTES = 64 * 1024
EXIT_STARTUP_FAILED = 70


def main() -> int:
    started = time.monotonic()
    try:
        client = start.find_client()
        config = start.parse_config(sys.argv[1] if len(sys.argv) > 1 else "", client)
        start.make_directories(config["uid"], config["gid"], client)
        listener = start.bind_socket(config["socket_path"], client)
        privileges.become_template(config["uid"], config["gid"])
        identity_filter.install(config["pool_uid_base"], config["pool_uid_count"], config["gid"])
        confine, jsonsafe = runner.import_runner_modules()
        confine.warm_up(runner.RUNNER_DIR)
        state = forked.TemplateState(list(sys.path), 0, (sys.stdin, sys.stdout, sys.stderr))
        before = start.read_vm_bytes()
        preloaded, unavailable = start.preload(config["preload"], config["uid"])
        state = state._replace(preloaded_bytes=max(0, start.read_vm_bytes() - before))
        start.validate_fork_safety()
        # C-level output of the imports, still buffered, would otherwise be written by every child.
        ctypes.CDLL(None).fflush(None)
    except Exception as error:
        send({"startup_error": f"{type(error).__name__}: {error}"})
        return EXIT_STARTUP_FAILED

    # Objects the template made before this point are never collected again, so the children do
    # not copy their pages to scan them.
    gc.collect()
    gc.freeze()
    send(
        {
            "ready": True,
            "preloaded": preloaded,
            "unavailable": unavailable,
            "preloaded_bytes": state.preloaded_bytes,
            "startup_ms": round((time.monotonic() - started) * 1000),
        }
    )
    server = Server(config, listener, client.uid)
    channels = server.serve()

    # Only a forked child gets here. It calls run_confined from main(), as runner.py does, so that
    # the code runs at the same stack depth as in a fresh runner (recursion limits, tracebacks).
    server.close_for_child()
    runner_config = forked.prepare_child(channels, state, server.pool, runner, confine)
    try:
        status = runner.run_confined(confine, jsonsafe, runner_config)
    except SystemExit as exit:
        status = forked.to_exit_status(exit)
    except BaseException as error:
        # What the interpreter does with an exception that ends a script.
        sys.excepthook(type(error), error, error.__traceback__)
        status = 1
    forked.exit_like_interpreter(status)


class Server:
    """The template's loop: accepts connections, forks children and reports their status."""

    def __init__(self, config: dict[str, Any], listener: socket.socket, client_uid: int) -> None:
        self.config = config
        self.listener = listener
        self.client_uid = client_uid
        self.selector = selectors.DefaultSelector()
        # Connections whose header line is still incomplete, by fd, with the bytes read so far.
        self.reading: dict[int, tuple[socket.socket, bytearray]] = {}
        # Connections with a header, by execution id and role, until the fork.
        self.arrived: dict[str, dict[str, tuple[socket.socket, dict[str, Any]]]] = {}
        # Running children by pidfd: their pid and execution id.
        self.children: dict[int, tuple[int, str]] = {}
        # In a forked child: its own three connections.
        self.own_connections: list[socket.socket] = []
        self.pool = forked.Pool(config["pool_uid_base"], config["pool_uid_count"], config["gid"])

    def serve(self) -> Any:
        """Serve until the service closes stdin (then exit); return only in a forked child, with
        its forked.Channels."""
        self.selector.register(self.listener, selectors.EVENT_READ, ("listener", ""))
        self.selector.register(0, selectors.EVENT_READ, ("lifeline", ""))
        while True:
            for key, _ in self.selector.select():
                channels = self.handle(key)
                if channels is not None:
                    return channels

    def handle(self, key: selectors.SelectorKey) -> Any:
        kind, exec_id = key.data
        if kind == "listener":
            self.accept()
        elif kind == "lifeline":
            if not os.read(0, 4096):
                exit_template()
        elif kind == "child":
            self.reap(key.fd)
        elif kind == "header" and key.fd in self.reading:
            return self.read_header(key.fileobj)  # type: ignore[arg-type]
        elif kind == "arrived":
            self.abort(exec_id)
        return None

    def accept(self) -> None:
        try:
            connection, _ = self.listener.accept()
        except BlockingIOError:
            return
        # The socket's mode admits only the service's uid already. This check is the second layer.
        if start.peer_uid(connection) != self.client_uid:
            connection.close()
            send({"protocol_error": "a connection from another uid was refused"})
            return
        connection.setblocking(False)
        self.reading[connection.fileno()] = (connection, bytearray())
        self.selector.register(connection, selectors.EVENT_READ, ("header", ""))

    def read_header(self, connection: socket.socket) -> Any:
        """Read what arrived; once the header line is complete, file the connection under its
        execution id and fork when the execution's three connections are in. The service sends
        nothing after the header before the fork is reported, so nothing else is read."""
        _, buffer = self.reading[connection.fileno()]
        try:
            chunk = connection.recv(MAX_HEADER_BYTES)
        except BlockingIOError:
            return None
        except ConnectionError:
            chunk = b""
        buffer += chunk
        newline = buffer.find(b"\n")
        if newline == -1 and chunk and len(buffer) < MAX_HEADER_BYTES:
            return None

        del self.reading[connection.fileno()]
        self.selector.unregister(connection)
        try:
            if newline != len(buffer) - 1:
                raise ValueError("no single header line")
            header = json.loads(buffer[:newline])
            exec_id, role = header["exec_id"], header["role"]
            if not isinstance(exec_id, str) or role not in ROLES:
                raise ValueError("invalid exec_id or role")
        except (ValueError, KeyError, TypeError) as error:
            connection.close()
            send({"protocol_error": f"invalid header: {error}"})
            return None

        connections = self.arrived.setdefault(exec_id, {})
        if role in connections:
            connection.close()
            self.abort(exec_id, f"second {role} connection")
            return None
        connections[role] = (connection, header)
        self.selector.register(connection, selectors.EVENT_READ, ("arrived", exec_id))
        return self.fork(exec_id) if len(connections) == len(ROLES) else None

    def abort(self, exec_id: str, reason: str = "a connection closed before the fork") -> None:
        for connection, _ in self.arrived.pop(exec_id, {}).values():
            self.selector.unregister(connection)
            connection.close()
        send({"exec_id": exec_id, "error": reason})

    def fork(self, exec_id: str) -> Any:
        connections = self.arrived.pop(exec_id)
        for connection, _ in connections.values():
            self.selector.unregister(connection)
        channels = forked.Channels(
            main_fd=connections["main"][0].fileno(),
            stderr_fd=connections["stderr"][0].fileno(),
            result_fd=connections["result"][0].fileno(),
        )
        try:
            sys.stderr.flush()
            pid = os.fork()
        except OSError as error:
            for connection, _ in connections.values():
                connection.close()
            send({"exec_id": exec_id, "error": f"{type(error).__name__}: {error}"})
            return None
        if pid == 0:
            self.own_connections = [connection for connection, _ in connections.values()]
            return channels

        for connection, _ in connections.values():
            connection.close()
        pidfd = os.pidfd_open(pid)
        self.children[pidfd] = (pid, exec_id)
        self.selector.register(pidfd, selectors.EVENT_READ, ("child", exec_id))
        send({"exec_id": exec_id, "pid": pid})
        return None

    def reap(self, pidfd: int) -> None:
        pid, exec_id = self.children.pop(pidfd)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, wait_status = os.waitpid(pid, 0)
        send({"exec_id": exec_id, "status": os.waitstatus_to_exitcode(wait_status)})

    def close_for_child(self) -> None:
        """Close, in a forked child, every socket and descriptor of the template.

        The child's own three connections are detached instead, so that their objects never close
        the fds that take_over_channels moves.
        """
        self.selector.close()
        self.listener.close()
        for connection, _ in self.reading.values():
            connection.close()
        for connections in self.arrived.values():
            for connection, _ in connections.values():
                connection.close()
        for pidfd in self.children:
            os.close(pidfd)
        for connection in self.own_connections:
            connection.detach()
        self.reading, self.arrived, self.children = {}, {}, {}


def exit_template() -> NoReturn:
    """Exit at once: the children run on, and finalizing the preloaded modules takes time."""
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
