# A seccomp filter that bounds what the template's CAP_SETUID and CAP_SETGID allow: uid changes
# only to the sandbox pool's uids, gid changes only to the sandbox gid, and setgroups only to an
# empty list. Any other id fails with EPERM. The kernel returns the same error to a process
# without the capabilities, so the code in a child sees no difference. template.py installs it
# right after privileges.become_template; every child inherits it below the runner's own filter
# (seccomp.py). Syscall numbers are those of asm/unistd_64.h (x86_64) and asm-generic/unistd.h
# (aarch64); the BPF encoding is seccomp.py's.

import ctypes
import errno
import os
import struct

import seccomp

# Syscall numbers as (x86_64, aarch64), with how many of their arguments are uids or gids.
UID_SYSCALLS = {
    "setuid": ((105, 146), 1),
    "setreuid": ((113, 145), 2),
    "setresuid": ((117, 147), 3),
    "setfsuid": ((122, 151), 1),
}
GID_SYSCALLS = {
    "setgid": ((106, 144), 1),
    "setregid": ((114, 143), 2),
    "setresgid": ((119, 149), 3),
    "setfsgid": ((123, 152), 1),
}
SETGROUPS = (116, 159)

# -1 leaves an id unchanged in setreuid, setresuid and their gid forms.
UNCHANGED_ID = 0xFFFFFFFF
DENY = seccomp.RET_ERRNO | errno.EPERM

Instruction = tuple[int, int, int, int]


def build_filter(machine: str, uid_base: int, uid_count: int, gid: int) -> list[Instruction]:
    """Build the program for `machine`. Raise OSError for an architecture without a table."""
    if machine not in seccomp.AUDIT_ARCH:
        raise OSError(f"no seccomp syscall table for architecture {machine}")
    column = 0 if machine == "x86_64" else 1
    program: list[Instruction] = [
        (seccomp.LD_W_ABS, 0, 0, seccomp.OFFSET_ARCH),
        (seccomp.JEQ_K, 1, 0, seccomp.AUDIT_ARCH[machine]),
        (seccomp.RET_K, 0, 0, seccomp.RET_KILL_PROCESS),
        (seccomp.LD_W_ABS, 0, 0, seccomp.OFFSET_NR),
    ]
    if machine == "x86_64":
        # x32 calls reach the same handlers under other numbers, as in seccomp.build_filter.
        program += [
            (seccomp.JGE_K, 0, 1, seccomp.X32_SYSCALL_BIT),
            (seccomp.RET_K, 0, 0, seccomp.RET_KILL_PROCESS),
        ]
    for numbers, count in UID_SYSCALLS.values():
        program += id_block(numbers[column], count, uid_base, uid_base + uid_count)
    for numbers, count in GID_SYSCALLS.values():
        program += id_block(numbers[column], count, gid, gid + 1)
    # setgroups(size, list) only with size 0.
    program += [
        (seccomp.JEQ_K, 0, 4, SETGROUPS[column]),
        (seccomp.LD_W_ABS, 0, 0, seccomp.OFFSET_ARG0_LOW),
        (seccomp.JEQ_K, 0, 1, 0),
        (seccomp.RET_K, 0, 0, seccomp.RET_ALLOW),
        (seccomp.RET_K, 0, 0, DENY),
    ]
    program.append((seccomp.RET_K, 0, 0, seccomp.RET_ALLOW))
    return program


def id_block(number: int, count: int, low: int, high: int) -> list[Instruction]:
    """Allow syscall `number` when each of its first `count` arguments is -1 or in [low, high).

    A different syscall skips the block with its number still in the accumulator. The kernel
    reads these arguments as 32-bit ids, so only their low words are checked.
    """
    checks: list[Instruction] = []
    for index in range(count):
        remaining = count - index - 1
        # Jumps below are counted from the next instruction: each argument takes 4, and after
        # the last argument come ALLOW and then DENY.
        to_deny = 4 * remaining + 1
        checks += [
            (seccomp.LD_W_ABS, 0, 0, seccomp.OFFSET_ARG0_LOW + 8 * index),
            (seccomp.JEQ_K, 2, 0, UNCHANGED_ID),
            (seccomp.JGE_K, 0, to_deny + 1, low),
            (seccomp.JGE_K, to_deny, 0, high),
        ]
    block = checks + [(seccomp.RET_K, 0, 0, seccomp.RET_ALLOW), (seccomp.RET_K, 0, 0, DENY)]
    return [(seccomp.JEQ_K, 0, len(block), number)] + block


def install(uid_base: int, uid_count: int, gid: int) -> None:
    """Install the filter for the calling thread and its future children. Raises OSError.

    Requires no_new_privs (privileges.become_template sets it) and a single thread.
    """
    program = build_filter(os.uname().machine, uid_base, uid_count, gid)
    encoded = b"".join(struct.pack("=HBBI", *instruction) for instruction in program)
    fprog = seccomp.SockFprog(len=len(program), filter=encoded)
    libc = ctypes.CDLL(None, use_errno=True)
    unused = ctypes.c_ulong(0)
    mode = ctypes.c_ulong(seccomp.SECCOMP_MODE_FILTER)
    if libc.prctl(seccomp.PR_SET_SECCOMP, mode, ctypes.byref(fprog), unused, unused) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"installing the identity filter failed: {os.strerror(code)}")
