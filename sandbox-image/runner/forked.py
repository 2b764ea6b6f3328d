# The steps of a child that template.py forked, from the fork to its exit. Before any user input is
# read the child takes over its connections as fds 0-3 and resets what it inherited from the
# template to what a fresh runner starts with. It then waits, still under the template's uid, for
# its execution's fields on the main connection, which the service sends when a request needs the
# child: it may have forked it ahead of time. It switches to the execution's uid without
# capabilities (privileges.py) and enters the execution directory. It then runs the same steps as
# a fresh runner (runner.run_confined), and exits the way the interpreter does, minus module
# teardown. The fields come from the service (function/sandbox/prewarmed/), which builds them like
# runner-process.ts does for a fresh runner.

import atexit
import ctypes
import fcntl
import io
import json
import os
import sys
import traceback
from types import ModuleType
from typing import Any, NamedTuple, NoReturn

import privileges

# fds of the runner's channels, as a fresh runner has them: stdin, stdout, stderr and the result
# channel (runner.RESULT_FD).
STDIO_FDS = (0, 1, 2)
RESULT_FD = 3
# The interpreter's exit status when flushing stdout or stderr fails at exit.
EXIT_FLUSH_FAILED = 120


class Channels(NamedTuple):
    """The fds of a forked child's three connections, before it moves them to fds 0-3."""

    main_fd: int  # stdin and stdout
    stderr_fd: int
    result_fd: int


class Pool(NamedTuple):
    """The ids a child may switch to: the template's pool of uids and the sandbox gid."""

    uid_base: int
    uid_count: int
    gid: int


class Execution(NamedTuple):
    """The fields of the execution a forked child runs, as the service sends them."""

    uid: int
    gid: int
    directory: str
    environment: dict[str, str]
    config_text: str  # the runner configuration, as a fresh runner gets it in argv[1]


# The execution's fields arrive on stdin as their length in this many ASCII digits, then that
# many bytes of JSON. The service writes the code only after them, so reading exactly this much
# leaves the request on stdin for the runner.
EXECUTION_LENGTH_DIGITS = 8
MAX_EXECUTION_BYTES = 64 * 1024


class TemplateState(NamedTuple):
    """State that the template recorded before preloading, restored in each child."""

    sys_path: list[str]
    # Address space that the preloaded modules take, in bytes. RLIMIT_AS counts it in every
    # child, and it is added to the execution's VMEM limit so the code keeps the same headroom as
    # in a fresh interpreter.
    preloaded_bytes: int
    stdio: tuple[Any, Any, Any]  # the template's sys.stdin, sys.stdout and sys.stderr


def prepare_child(
    channels: Channels,
    template: TemplateState,
    pool: Pool,
    runner: ModuleType,
    confine: ModuleType,
) -> Any:
    """Prepare the child up to the runner's confinement and return its confine.Config.

    The caller has closed the template's sockets and descriptors. When the main connection ends
    before the execution's fields arrive, the service no longer needs the child, and it exits
    with status 0. On failure the child reports a sandbox error on its result channel and exits
    with the runner's status 70.
    """
    try:
        take_over_channels(channels)
        reset_interpreter(template)
    except Exception as error:
        os._exit(runner.report_sandbox_error(f"preparing the forked runner failed: {error!r}"))

    execution = wait_for_execution(pool, runner)
    try:
        privileges.become_execution(execution.uid, execution.gid)
        os.chdir(execution.directory)
        os.environ.clear()
        os.environ.update(execution.environment)
        return to_limited_config(confine, execution, template)
    except Exception as error:
        os._exit(runner.report_sandbox_error(f"preparing the forked runner failed: {error!r}"))


def wait_for_execution(pool: Pool, runner: ModuleType) -> Execution:
    """Read the execution's fields from stdin and check them; exit when stdin ends first.

    The uid must be one of the pool's and the gid the sandbox gid, whatever the service sent,
    because the child switches to them with the template's capabilities.
    """
    try:
        length_text = read_exactly(0, EXECUTION_LENGTH_DIGITS)
        if not length_text:
            os._exit(0)
        length = int(length_text.decode("ascii"))
        if not 0 < length <= MAX_EXECUTION_BYTES:
            raise ValueError(f"execution fields of {length} bytes")
        return to_execution(json.loads(read_exactly(0, length)), pool)
    except Exception as error:
        os._exit(runner.report_sandbox_error(f"reading the execution failed: {error!r}"))


def read_exactly(fd: int, size: int) -> bytes:
    """Read `size` bytes, or nothing when the stream ends first; raise EOFError midway."""
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            if data:
                raise EOFError(f"stream ended after {len(data)} of {size} bytes")
            return b""
        data += chunk
    return data


def to_execution(fields: Any, pool: Pool) -> Execution:
    """Build the Execution from its JSON fields. Raise ValueError when they are invalid."""
    if not isinstance(fields, dict):
        raise ValueError("the execution is not an object")
    uid, gid = fields.get("uid"), fields.get("gid")
    if type(uid) is not int or not pool.uid_base <= uid < pool.uid_base + pool.uid_count:
        raise ValueError(f"uid {uid!r} is not in the sandbox pool")
    if type(gid) is not int or gid != pool.gid:
        raise ValueError(f"gid {gid!r} is not the sandbox gid")
    environment, directory = fields.get("environment"), fields.get("directory")
    if not isinstance(environment, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in environment.items()
    ):
        raise ValueError("environment must map names to strings")
    if not isinstance(directory, str) or not os.path.isabs(directory):
        raise ValueError("directory must be an absolute path")
    if not isinstance(fields.get("config"), str):
        raise ValueError("config must be a string")
    return Execution(uid, gid, directory, environment, fields["config"])


def take_over_channels(channels: Channels) -> None:
    """Place the connections on fds 0-3 and close every other fd the child inherited.

    The caller has closed the template's own sockets through their objects already. Closing the
    rest here is the backstop that keeps other executions' connections out of this child.
    """
    sources = [channels.main_fd, channels.main_fd, channels.stderr_fd, channels.result_fd]
    # Copies above fd 3 first, so that no dup2 below replaces a connection not yet placed.
    moved = {fd: fcntl.fcntl(fd, fcntl.F_DUPFD, RESULT_FD + 1) for fd in set(sources)}
    for target, source in enumerate(sources):
        os.dup2(moved[source], target)
    os.closerange(RESULT_FD + 1, 2**31 - 1)
    for fd in (*STDIO_FDS, RESULT_FD):
        # The template read the headers without blocking, and the flag belongs to the socket.
        os.set_blocking(fd, True)


def reset_interpreter(template: TemplateState) -> None:
    """Reset what the child inherited from the template to a fresh runner's state.

    Module attributes that one execution changes need no reset, because every child is a new
    fork of the unchanged template. What is reset is state that the template itself set up:
    paths, cached directories, random generators and the standard streams. The environment is
    the execution's, set once its fields have arrived. The caches cleared here are filled from
    it when the code first uses them.
    """
    sys.path[:] = template.sys_path

    # The template's imports resolved these from its own environment.
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile.tempdir = None
    matplotlib = sys.modules.get("matplotlib")
    for name in ("get_configdir", "get_cachedir"):
        cached = getattr(matplotlib, name, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()

    # Every child would otherwise draw the template's sequence. random reseeds itself at fork
    # (os.register_at_fork), numpy and random2 do not.
    for module in ("random", "random2", "numpy.random"):
        generator = sys.modules.get(module)
        if generator is not None:
            generator.seed()

    sys.stdin, sys.stdout, sys.stderr = [
        open_stream(fd, original) for fd, original in zip(STDIO_FDS, template.stdio)
    ]
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def open_stream(fd: int, original: Any) -> io.TextIOWrapper:
    """Open a standard stream on `fd` the way the interpreter does at start-up.

    Encoding, error handler and line buffering are copied from the template's stream, which
    the interpreter configured from the same environment a fresh runner starts with.
    """
    is_input = fd == 0
    buffer = io.open(fd, "rb" if is_input else "wb", closefd=False)
    buffer.raw.name = original.buffer.raw.name
    stream = io.TextIOWrapper(
        buffer,
        encoding=original.encoding,
        errors=original.errors,
        newline="\n",
        line_buffering=original.line_buffering,
        write_through=original.write_through,
    )
    stream.mode = "r" if is_input else "w"
    return stream


def to_limited_config(confine: ModuleType, execution: Execution, template: TemplateState) -> Any:
    """Parse the runner configuration, raising VMEM by what the template preloaded.

    Raises confine.ConfinementError, as a fresh runner's parse does.
    """
    config = confine.parse_config(execution.config_text)
    if config.limits.vmem_bytes == 0:
        return config
    vmem_bytes = config.limits.vmem_bytes + template.preloaded_bytes
    return config._replace(limits=config.limits._replace(vmem_bytes=vmem_bytes))


def to_exit_status(exit: SystemExit) -> int:
    """Return the exit status for SystemExit as the interpreter computes it for a script.

    None is 0, an integer is its value (as a C long, and -1 when it does not fit), and
    anything else is printed to sys.stderr and gives 1.
    """
    code = exit.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code if -(2**63) <= code < 2**63 else -1

    try:
        if sys.stderr is not None:
            sys.stderr.write(str(code))
            sys.stderr.write("\n")
        else:
            os.write(2, f"{code}\n".encode(errors="backslashreplace"))
    except Exception:
        pass  # The interpreter ignores a failure to print it too.
    return 1


def exit_like_interpreter(status: int) -> NoReturn:
    """End the process as Python's finalization would, without tearing the modules down.

    The observable steps run in the interpreter's order: wait for non-daemon threads, run the
    atexit callbacks, and flush stdout and stderr (a failure makes the status 120). Then what
    teardown and exit(3) would flush is flushed: the original sys.__stdout__ and sys.__stderr__,
    and C stdio.
    Module teardown is skipped: with the preloaded libraries it takes about 50 ms and copies
    most shared pages, and Python promises nothing about finalizers run at that point.
    """
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()  # type: ignore[attr-defined]
        except BaseException:
            traceback.print_exc()
    atexit._run_exitfuncs()
    if not flush_standard_streams():
        status = EXIT_FLUSH_FAILED
    # Teardown would destroy the original stream objects, which flushes them.
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()  # type: ignore[union-attr]
        except Exception:
            pass
    ctypes.CDLL(None).fflush(None)
    os._exit(status & 0xFF)


def flush_standard_streams() -> bool:
    """Flush sys.stdout and sys.stderr unless they are None or closed; False if one failed."""
    is_flushed = True
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name, None)
        if stream is None or getattr(stream, "closed", False) is True:
            continue
        try:
            stream.flush()
        except Exception as error:
            is_flushed = False
            if name == "stdout":
                # As the interpreter reports it: the traceback starts in the stream's flush.
                trace = error.__traceback__.tb_next if error.__traceback__ else None
                print(f"Exception ignored in: {stream!r}", file=sys.__stderr__)
                traceback.print_exception(type(error), error, trace, file=sys.__stderr__)
    return is_flushed
