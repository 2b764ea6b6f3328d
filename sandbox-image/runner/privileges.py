# Identity and capability changes of the prewarmed executor: template.py calls become_template
# once, as root, before it imports anything beyond the standard library, and forked.py calls
# become_execution in each forked child before any user input is read. Each verifies the result
# in /proc/self/status and raises PrivilegeError when it differs. Capability numbers and prctl
# options are those of the kernel's include/uapi/linux/capability.h and prctl.h.

import ctypes
import os

CAP_SETGID = 6
CAP_SETUID = 7
CAP_SETPCAP = 8

PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38

LINUX_CAPABILITY_VERSION_3 = 0x20080522

# The only capabilities the template keeps: enough to switch a forked child to a pool uid and
# the sandbox gid, and nothing that reaches files, other processes or the kernel.
TEMPLATE_CAPABILITIES = (1 << CAP_SETUID) | (1 << CAP_SETGID)

CAPABILITY_FIELDS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


class PrivilegeError(Exception):
    """An identity or capability change failed or did not take effect."""


class CapabilityHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapabilityData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, argument: int) -> None:
    zero = ctypes.c_ulong(0)
    if _libc.prctl(option, ctypes.c_ulong(argument), zero, zero, zero) != 0:
        code = ctypes.get_errno()
        raise PrivilegeError(f"prctl({option}, {argument}) failed: {os.strerror(code)}")


def set_capabilities(effective: int, permitted: int, inheritable: int = 0) -> None:
    """Set the calling thread's capability sets, given as 64-bit masks, with capset(2)."""
    header = CapabilityHeader(version=LINUX_CAPABILITY_VERSION_3, pid=0)
    data = (CapabilityData * 2)()
    for index in range(2):
        shift = 32 * index
        data[index].effective = (effective >> shift) & 0xFFFFFFFF
        data[index].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[index].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    if _libc.capset(ctypes.byref(header), data) != 0:
        code = ctypes.get_errno()
        raise PrivilegeError(f"capset failed: {os.strerror(code)}")


def read_status() -> dict[str, str]:
    """Return the fields of /proc/self/status, by name."""
    with open("/proc/self/status", encoding="ascii") as status:
        fields = (line.partition(":") for line in status)
        return {name: value.strip() for name, _, value in fields}


def read_capabilities() -> dict[str, int]:
    """Return the capability sets of /proc/self/status (CapInh, CapPrm, ...) as masks."""
    status = read_status()
    return {name: int(status[name], 16) for name in CAPABILITY_FIELDS}


def become_template(uid: int, gid: int) -> None:
    """Switch from root to the template's uid and gid, keeping only TEMPLATE_CAPABILITIES.

    The bounding set is reduced to the same two capabilities, so neither the template nor any
    child can regain another one, and no_new_privs is set. Raises PrivilegeError.
    """
    if os.getuid() != 0:
        raise PrivilegeError(f"the template must start as root, runs as uid {os.getuid()}")

    # KEEPCAPS keeps the permitted set through the switch away from uid 0; the kernel still
    # clears the effective set.
    _prctl(PR_SET_KEEPCAPS, 1)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    permitted = read_capabilities()["CapPrm"]
    set_capabilities(effective=1 << CAP_SETPCAP, permitted=permitted)
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as last:
        last_capability = int(last.read())
    for capability in range(last_capability + 1):
        if not TEMPLATE_CAPABILITIES & (1 << capability):
            _prctl(PR_CAPBSET_DROP, capability)
    set_capabilities(effective=TEMPLATE_CAPABILITIES, permitted=TEMPLATE_CAPABILITIES)
    _prctl(PR_SET_KEEPCAPS, 0)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)

    expected = {"CapInh": 0, "CapAmb": 0}
    expected.update({name: TEMPLATE_CAPABILITIES for name in ("CapPrm", "CapEff", "CapBnd")})
    validate_status(uid, gid, expected)


def become_execution(uid: int, gid: int) -> None:
    """Switch a forked child to the execution's uid and gid and drop every capability.

    The bounding set stays as the template left it. Raises PrivilegeError.
    """
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    # Between two non-zero uids the kernel keeps the capability sets, so they are cleared here.
    set_capabilities(effective=0, permitted=0, inheritable=0)
    validate_status(uid, gid, {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapAmb": 0})


def validate_status(uid: int, gid: int, capabilities: dict[str, int]) -> None:
    """Raise PrivilegeError unless /proc/self/status shows exactly these ids and capabilities.

    All four uids (real, effective, saved, filesystem) must be `uid`, all four gids `gid`, and
    the process must have no supplementary group.
    """
    status = read_status()
    found = {name: int(status[name], 16) for name in capabilities}
    if found != capabilities:
        masks = {name: f"{value:x}" for name, value in found.items()}
        raise PrivilegeError(f"unexpected capabilities after the switch: {masks}")
    if status["Uid"].split() != [str(uid)] * 4 or status["Gid"].split() != [str(gid)] * 4:
        raise PrivilegeError(f"unexpected ids: Uid {status['Uid']}, Gid {status['Gid']}")
    if status["Groups"] != "":
        raise PrivilegeError(f"unexpected supplementary groups: {status['Groups']}")
