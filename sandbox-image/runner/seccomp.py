# A seccomp filter that is the second layer behind Landlock: it denies the syscalls that create
# non-UNIX sockets, start programs, enter or create namespaces, inspect other processes, make
# IPC objects that outlive the execution, or change the system, and allows everything else. Syscall numbers are those of Linux's uapi headers
# asm/unistd_64.h (x86_64) and asm-generic/unistd.h (aarch64).
# confine.py installs it last, after no_new_privs and Landlock.

import ctypes
import errno
import functools
import os
import struct

# Syscall numbers as (x86_64, aarch64). None marks a syscall the architecture does not have.
SYSCALLS: dict[str, tuple[int | None, int | None]] = {
    "socket": (41, 198),
    "socketpair": (53, 199),
    "clone": (56, 220),
    "clone3": (435, 435),
    "execve": (59, 221),
    "execveat": (322, 281),
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "bpf": (321, 280),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "userfaultfd": (323, 282),
    "unshare": (272, 97),
    "setns": (308, 268),
    "keyctl": (250, 219),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "chroot": (161, 51),
    "setsid": (112, 157),
    "setpgid": (109, 154),
    "perf_event_open": (298, 241),
    "kexec_load": (246, 104),
    "kexec_file_load": (320, 294),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "delete_module": (176, 106),
    "acct": (163, 89),
    "swapon": (167, 224),
    "swapoff": (168, 225),
    "reboot": (169, 142),
    "sethostname": (170, 161),
    "setdomainname": (171, 162),
    "iopl": (172, None),
    "ioperm": (173, None),
    "modify_ldt": (154, None),
    "open_by_handle_at": (304, 265),
    "name_to_handle_at": (303, 264),
    "quotactl": (179, 60),
    "quotactl_fd": (443, 443),
    "fanotify_init": (300, 262),
    "kcmp": (312, 272),
    "pidfd_getfd": (438, 438),
    "syslog": (103, 116),
    "vhangup": (153, 58),
    "personality": (135, 92),
    "mount_setattr": (442, 442),
    "fsopen": (430, 430),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    # System V IPC objects and POSIX message queues belong to the IPC namespace, which Landlock
    # does not cover. They would outlive the execution, carry data to the next execution on the
    # same uid, and keep memory charged to the slot.
    "shmget": (29, 194),
    "shmat": (30, 196),
    "shmctl": (31, 195),
    "shmdt": (67, 197),
    "semget": (64, 190),
    "semop": (65, 193),
    "semctl": (66, 191),
    "semtimedop": (220, 192),
    "msgget": (68, 186),
    "msgsnd": (69, 189),
    "msgrcv": (70, 188),
    "msgctl": (71, 187),
    "mq_open": (240, 180),
    "mq_unlink": (241, 181),
}

# clone3 passes its flags in memory, which a seccomp filter cannot read, so it is refused as
# missing. glibc then falls back to clone, whose flags register is checked.
DENIED_WITH_ENOSYS = {"clone3"}

# Starting a program fails with EACCES, the error Landlock gives for it too.
DENIED_WITH_EACCES = {"execve", "execveat"}

# Allowed or denied depending on their first argument.
CHECKED_BY_ARGUMENT = {"socket", "socketpair", "clone"}

# Everything else in SYSCALLS is denied outright. personality is among them because neither
# CPython nor the sandbox's libraries call it (checked with strace), and its flags matter only
# to the next execve anyway.
DENIED_WITH_EPERM = set(SYSCALLS) - DENIED_WITH_ENOSYS - DENIED_WITH_EACCES - CHECKED_BY_ARGUMENT

AF_UNIX = 1
# clone() flags that are refused: every new namespace, and CLONE_PARENT, whose process would be a
# child of the runner's parent (the template or the service), which never reaps it, so its
# zombie would keep the execution's uid busy.
CLONE_DENIED_FLAGS = (
    0x00008000  # CLONE_PARENT
    | 0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000

RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000

# Classic BPF opcodes: load a 32-bit word of seccomp_data, conditional jumps on a constant,
# and return a constant.
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
JSET_K = 0x45
RET_K = 0x06

# Offsets in struct seccomp_data. Arguments are 64 bits wide, and on these little-endian
# architectures the low 32 bits come first.
OFFSET_NR = 0
OFFSET_ARCH = 4
OFFSET_ARG0_LOW = 16

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

Instruction = tuple[int, int, int, int]


def build_filter(machine: str) -> list[Instruction]:
    """Build the filter program for `machine` (os.uname().machine). Raise OSError if unknown."""
    if machine not in AUDIT_ARCH:
        raise OSError(f"no seccomp syscall table for architecture {machine}")
    column = 0 if machine == "x86_64" else 1
    numbers = {name: pair[column] for name, pair in SYSCALLS.items() if pair[column] is not None}

    # A syscall made with another architecture's calling convention has other numbers, so the
    # process is killed before any number is looked at.
    program: list[Instruction] = [
        (LD_W_ABS, 0, 0, OFFSET_ARCH),
        (JEQ_K, 1, 0, AUDIT_ARCH[machine]),
        (RET_K, 0, 0, RET_KILL_PROCESS),
        (LD_W_ABS, 0, 0, OFFSET_NR),
    ]
    if machine == "x86_64":
        # x32 syscalls share the x86_64 audit arch but set this bit. Nothing here uses them, and
        # no valid x86_64 number is this large.
        program += [(JGE_K, 0, 1, X32_SYSCALL_BIT), (RET_K, 0, 0, RET_KILL_PROCESS)]

    # Each check below leaves the syscall number in the accumulator when it does not match.
    denials = [(DENIED_WITH_EPERM, errno.EPERM), (DENIED_WITH_ENOSYS, errno.ENOSYS)]
    denials.append((DENIED_WITH_EACCES, errno.EACCES))
    for names, error in denials:
        for name in sorted(names & numbers.keys()):
            program += [(JEQ_K, 0, 1, numbers[name]), (RET_K, 0, 0, RET_ERRNO | error)]

    # socket() and socketpair() are allowed for AF_UNIX only. Other domains get EACCES, as
    # Python programs expect from a sandbox that forbids networking.
    for name in ("socket", "socketpair"):
        program += [
            (JEQ_K, 0, 4, numbers[name]),
            (LD_W_ABS, 0, 0, OFFSET_ARG0_LOW),
            (JEQ_K, 0, 1, AF_UNIX),
            (RET_K, 0, 0, RET_ALLOW),
            (RET_K, 0, 0, RET_ERRNO | errno.EACCES),
        ]

    # clone() creates threads and processes, but no namespace and no sibling of the runner. The
    # flags argument is an unsigned long, and every refused bit lies in its low 32 bits.
    program += [
        (JEQ_K, 0, 4, numbers["clone"]),
        (LD_W_ABS, 0, 0, OFFSET_ARG0_LOW),
        (JSET_K, 0, 1, CLONE_DENIED_FLAGS),
        (RET_K, 0, 0, RET_ERRNO | errno.EPERM),
        (RET_K, 0, 0, RET_ALLOW),
    ]

    # Every syscall that no check above matched is allowed.
    program.append((RET_K, 0, 0, RET_ALLOW))
    return program


@functools.cache
def encode_filter(machine: str) -> tuple[int, bytes]:
    """Return the filter's length in instructions and its bytes, built once per process.

    The prewarmed template calls it before it forks, so its children reuse the bytes.
    """
    program = build_filter(machine)
    # struct sock_filter is { __u16 code; __u8 jt; __u8 jf; __u32 k; } in native byte order.
    return len(program), b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def install(machine: str) -> None:
    """Install the filter for the calling thread and its future children.

    Requires no_new_privs, and must run while the process has a single thread, because a filter
    installed without SECCOMP_FILTER_FLAG_TSYNC binds only the calling thread. Raises OSError.
    """
    length, encoded = encode_filter(machine)
    fprog = SockFprog(len=length, filter=encoded)

    libc = ctypes.CDLL(None, use_errno=True)
    unused = ctypes.c_ulong(0)
    result = libc.prctl(
        PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), unused, unused
    )
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"installing the seccomp filter failed: {os.strerror(code)}")
