# Landlock, the kernel's unprivileged access control. After `restrict`, the process and all its
# future children reach the filesystem only beneath the given paths and cannot bind or connect TCP
# sockets. Scoping also stops them from connecting to abstract UNIX sockets and from signalling
# processes outside their Landlock domain. Constants are those of the kernel's
# include/uapi/linux/landlock.h, each with the ABI version that introduced it. confine.py chooses
# the paths. The Node side's default read paths (function/config.ts) must cover what the sandboxed
# libraries open outside the Python installation.

import ctypes
import os
import stat

# The Landlock syscalls were added after the syscall tables were unified, so x86_64 and aarch64
# share these numbers.
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446

CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5

NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

MIN_ABI = 6

# Filesystem rights that each ABI version handles. ABI 4, 6 and 7 added no filesystem right.
# NOTE: rights added by an ABI above 7 are not handled, and so stay allowed, until added here.
FS_RIGHTS_ABI_1 = (1 << 13) - 1
FS_RIGHTS_BY_ABI = {
    1: FS_RIGHTS_ABI_1,
    2: FS_RIGHTS_ABI_1 | FS_REFER,
    3: FS_RIGHTS_ABI_1 | FS_REFER | FS_TRUNCATE,
    5: FS_RIGHTS_ABI_1 | FS_REFER | FS_TRUNCATE | FS_IOCTL_DEV,
}

# The only rights the kernel accepts in a rule for a path that is not a directory.
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV

# Granted beneath the execution directory: all but running programs and creating or using
# device files.
READ_WRITE_DENIED = FS_EXECUTE | FS_MAKE_CHAR | FS_MAKE_BLOCK | FS_IOCTL_DEV

# Granted on /dev/null. TRUNCATE lets open(os.devnull, "w"), which passes O_TRUNC, succeed.
DEVICE_RIGHTS = FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE


class RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # The kernel's struct is packed: 12 bytes.
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(number: int, *args: object) -> int:
    # syscall() is variadic and reads every argument as a long, so ints are widened explicitly.
    widened = [ctypes.c_long(arg) if isinstance(arg, int) else arg for arg in args]
    result = _libc.syscall(ctypes.c_long(number), *widened)
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def get_abi_version() -> int:
    """Return the highest Landlock ABI the kernel supports. Raise OSError if it has none."""
    return _syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), CREATE_RULESET_VERSION)


def handled_fs_rights(abi: int) -> int:
    """Return every filesystem right known to both this module and ABI version `abi`."""
    known = [version for version in FS_RIGHTS_BY_ABI if version <= abi]
    return FS_RIGHTS_BY_ABI[max(known)]


def restrict(abi: int, read_only: list[str], read_write: list[str], devices: list[str]) -> None:
    """Restrict the process to filesystem access beneath the given paths, without TCP.

    read_only paths get READ_FILE and READ_DIR, read_write paths every handled right but
    READ_WRITE_DENIED, and devices DEVICE_RIGHTS. Each path is followed through symlinks. A path
    that does not exist, or that the process may not search anyway, gets no rule. Requires
    no_new_privs. Raises OSError if the kernel rejects the ruleset or a rule.
    """
    if abi < MIN_ABI:
        raise OSError(f"Landlock ABI {abi} is too old, at least {MIN_ABI} is required")

    handled = handled_fs_rights(abi)
    attr = RulesetAttr(
        handled_access_fs=handled,
        handled_access_net=NET_BIND_TCP | NET_CONNECT_TCP,
        scoped=SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL,
    )
    ruleset_fd = _syscall(
        SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), 0
    )
    try:
        for path in read_only:
            _add_path_rule(ruleset_fd, path, FS_READ_FILE | FS_READ_DIR)
        for path in read_write:
            _add_path_rule(ruleset_fd, path, handled & ~READ_WRITE_DENIED)
        for path in devices:
            _add_path_rule(ruleset_fd, path, DEVICE_RIGHTS & handled)
        _syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset_fd, 0)
    finally:
        os.close(ruleset_fd)


def _add_path_rule(ruleset_fd: int, path: str, rights: int) -> None:
    try:
        path_fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return

    try:
        if not stat.S_ISDIR(os.fstat(path_fd).st_mode):
            rights &= FILE_RIGHTS
        rule = PathBeneathAttr(allowed_access=rights, parent_fd=path_fd)
        try:
            _syscall(SYS_LANDLOCK_ADD_RULE, ruleset_fd, RULE_PATH_BENEATH, ctypes.byref(rule), 0)
        except OSError as error:
            raise OSError(error.errno, f"adding a Landlock rule for {path} failed: {error}")
    finally:
        os.close(path_fd)
