# Confinement of the runner process, applied before it reads any user input: identity checks,
# rlimits, no_new_privs, Landlock (landlock.py) and seccomp (seccomp.py). The configuration is
# the runner's argv[1], built by function/sandbox/runner-process.ts, and its field names must stay
# in sync with that file. Paths readable beyond the Python installation come from its read_paths,
# whose defaults live in function/config.ts.

import ctypes
import functools
import json
import os
import resource
import sys
from typing import NamedTuple

import landlock
import seccomp

PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39

# The only device the code may open, for read and write.
DEVICE_PATHS = ["/dev/null"]


class ConfinementError(Exception):
    """A confinement step failed, so no user input may be read."""


# NamedTuple rather than dataclass: importing dataclasses took 8 ms per execution here
# (python3 -X importtime, Python 3.11, 2-core VM).
class Limits(NamedTuple):
    cpu_seconds: int
    vmem_bytes: int  # 0 means no address space limit.
    fsize_bytes: int  # 0 means no byte may be written to any file.
    nproc: int
    nofile: int


class Config(NamedTuple):
    limits: Limits
    read_paths: list[str]
    confine: bool  # False only for the meta-test that proves every deny test needs confinement.


def parse_config(text: str) -> Config:
    """Parse the runner's argv[1]. Raise ConfinementError when a field is missing or invalid."""
    try:
        document = json.loads(text)
        limits = document["limits"]
        values = {name: limits[name] for name in Limits._fields}
        read_paths = document["read_paths"]
        confine = document["confine"]
    except (ValueError, KeyError, TypeError) as error:
        raise ConfinementError(f"invalid runner configuration: {error!r}") from None

    for name, value in values.items():
        if type(value) is not int or value < 0:
            raise ConfinementError(f"invalid runner configuration: limits.{name} = {value!r}")
    if not isinstance(read_paths, list) or not all(
        isinstance(path, str) and os.path.isabs(path) for path in read_paths
    ):
        raise ConfinementError("invalid runner configuration: read_paths must be absolute paths")
    if not isinstance(confine, bool):
        raise ConfinementError("invalid runner configuration: confine must be a boolean")
    return Config(Limits(**values), read_paths, confine)


def confine_process(config: Config, runner_dir: str) -> int:
    """Apply every confinement step and return the kernel's Landlock ABI version.

    With config.confine false only the identity check runs, and the ABI is still reported (0
    without Landlock) so that the ready line keeps its shape. Raises ConfinementError naming the
    step that failed.
    """
    validate_identity()
    if not config.confine:
        try:
            return landlock.get_abi_version()
        except OSError:
            return 0

    abi = get_landlock_abi()

    cwd = os.getcwd()
    read_only = find_installation_paths(runner_dir, cwd) + config.read_paths
    steps = [
        ("setting rlimits", lambda: set_rlimits(config.limits)),
        ("setting no_new_privs", set_no_new_privs),
        ("applying Landlock", lambda: landlock.restrict(abi, read_only, [cwd], DEVICE_PATHS)),
        ("installing seccomp", lambda: seccomp.install(os.uname().machine)),
    ]
    for description, step in steps:
        try:
            step()
        except (OSError, ValueError) as error:
            raise ConfinementError(f"{description} failed: {error}") from None
    return abi


def validate_identity() -> None:
    """Raise ConfinementError unless the process runs without root ids or extra groups."""
    if 0 in os.getresuid() or 0 in os.getresgid():
        raise ConfinementError(
            f"runner must not run as root: uids {os.getresuid()}, gids {os.getresgid()}"
        )
    groups = os.getgroups()
    if groups:
        raise ConfinementError(f"runner must not have supplementary groups, has {groups}")


def get_landlock_abi() -> int:
    try:
        return landlock.get_abi_version()
    except OSError as error:
        raise ConfinementError(f"Landlock is not available: {error}") from None


def set_rlimits(limits: Limits) -> None:
    """Set soft and hard limits alike, so the code cannot raise them again.

    At the CPU limit the kernel sends SIGKILL because the hard limit is reached at the same
    moment as the soft one. Python ignores SIGXFSZ, so a write past FSIZE fails with EFBIG.
    """
    values = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.fsize_bytes),
        (resource.RLIMIT_NPROC, limits.nproc),
        (resource.RLIMIT_NOFILE, limits.nofile),
    ]
    if limits.vmem_bytes > 0:
        values.append((resource.RLIMIT_AS, limits.vmem_bytes))
    for limit, value in values:
        resource.setrlimit(limit, (value, value))


def set_no_new_privs() -> None:
    """Set no_new_privs, which Landlock and seccomp require of an unprivileged process."""
    libc = ctypes.CDLL(None, use_errno=True)
    zero = ctypes.c_ulong(0)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), zero, zero, zero) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    if libc.prctl(PR_GET_NO_NEW_PRIVS, zero, zero, zero, zero) != 1:
        raise OSError("no_new_privs is not set after PR_SET_NO_NEW_PRIVS")


def find_installation_paths(runner_dir: str, cwd: str) -> list[str]:
    """Return the interpreter's library directories and existing sys.path entries.

    The runner's own directory and the execution directory are left out. The first contains
    nothing the code needs, and the second gets its own read-write rule.
    """
    cwd_real = os.path.realpath(cwd)
    found = find_existing_paths(runner_dir, tuple(sys.path))
    return [path for path, real in found if real != cwd_real]


@functools.cache
def find_existing_paths(runner_dir: str, sys_path: tuple[str, ...]) -> list[tuple[str, str]]:
    """Return the candidates of find_installation_paths that exist, with their real paths.

    Cached per sys.path, so that the prewarmed template's children reuse what the template
    found before it forked (confine.warm_up).
    """
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = []
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        candidates.append(os.path.join(prefix, "lib", version))
        candidates.append(os.path.join(prefix, sys.platlibdir, version))
    candidates += sys_path

    runner_real = os.path.realpath(runner_dir)
    found: list[tuple[str, str]] = []
    for path in candidates:
        if not path or not os.path.exists(path) or path in (seen for seen, _ in found):
            continue
        real = os.path.realpath(path)
        if real != runner_real:
            found.append((path, real))
    return found


def warm_up(runner_dir: str) -> None:
    """Compute, in the prewarmed template, what every confinement of a child needs alike."""
    find_existing_paths(runner_dir, tuple(sys.path))
    seccomp.encode_filter(os.uname().machine)
