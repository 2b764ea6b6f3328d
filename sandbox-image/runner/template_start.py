# The template's start-up steps up to its ready line (template.py runs them in order): parse and
# check the configuration, make its directories and bind its socket while still root, then, as
# the template uid, preload the modules and check that forking is safe.
#
# The service that starts the template is either root itself or, in the container image, an
# ordinary user that starts it through the set-user-ID launcher (sandbox-image/launcher/). The
# template tells them apart by the uid at the other end of its stdin, a socketpair that Node
# created, because the launcher leaves no other trace of its caller. An ordinary user's
# configuration is trusted only where it matches the launcher's root-owned configuration file.

import importlib
import json
import os
import re
import socket
import stat
import struct
import sys
from typing import Any, NamedTuple

import privileges

# Keys read from the launcher's configuration; keep in sync with codejail-launch.c and
# provision.sh, which writes the file.
LAUNCHER_CONFIG = "/etc/codejail/launcher.conf"
# The templates' directories: RUN_DIR/templates-<uid>/ holds the sockets and may be entered only
# by the service's user; RUN_DIR/cache-<uid>/ is the template's own (matplotlib's font cache).
# function/sandbox/prewarmed/prewarmed-executor.ts names the same paths.
RUN_DIR = "/run/codejail"
SOCKET_NAME = re.compile(r"[0-9]+-[0-9]+\.sock")
LISTEN_BACKLOG = 128
CONFIG_FIELDS = {
    "socket_path": str,
    "uid": int,
    "gid": int,
    "pool_uid_base": int,
    "pool_uid_count": int,
    "preload": list,
}


class Client(NamedTuple):
    """The service process at the other end of the template's stdin."""

    uid: int
    gid: int


def find_client() -> Client:
    """Return the credentials of the process that created the template's stdin socketpair.

    Raises OSError when stdin is not a unix socket, so the template cannot tell who started it.
    """
    stdin = socket.socket(fileno=os.dup(0))
    try:
        credentials = stdin.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    finally:
        stdin.close()
    _, uid, gid = struct.unpack("3i", credentials)
    return Client(uid, gid)


def parse_config(text: str, client: Client) -> dict[str, Any]:
    """Parse argv[1] and check it. Raise ValueError when a field is missing or not allowed.

    The template acts as root on these values before it drops privileges, so the ids and the
    socket path are always checked, and also against the launcher's configuration when the
    service is not root.
    """
    config = json.loads(text)
    for name, kind in CONFIG_FIELDS.items():
        if not isinstance(config.get(name), kind):
            raise ValueError(f"invalid template configuration: {name} must be a {kind.__name__}")

    uid, gid = config["uid"], config["gid"]
    base, count = config["pool_uid_base"], config["pool_uid_count"]
    if uid <= 0 or gid <= 0 or base <= 0 or count <= 0 or base <= uid < base + count:
        raise ValueError("invalid template configuration: root ids, or a uid of the pool")
    if client.uid != 0:
        validate_against_launcher(config)
    socket_path = config["socket_path"]
    socket_dir = os.path.join(RUN_DIR, f"templates-{uid}")
    if os.path.dirname(socket_path) != socket_dir:
        raise ValueError(f"invalid template configuration: socket_path must be in {socket_dir}")
    if not SOCKET_NAME.fullmatch(os.path.basename(socket_path)):
        raise ValueError("invalid template configuration: socket name must be N-N.sock")
    return config


def validate_against_launcher(config: dict[str, Any]) -> None:
    """Raise ValueError unless the pool, the gid and the template uid are the launcher's."""
    info = os.stat(LAUNCHER_CONFIG)
    if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ValueError(f"{LAUNCHER_CONFIG} must be owned by root and writable by root only")
    with open(LAUNCHER_CONFIG, encoding="utf-8") as file:
        lines = [[part.strip() for part in line.partition("=")] for line in file]
    settings = {key: value for key, _, value in lines if key and not key.startswith("#")}
    base = int(settings["uid_base"])
    expected = {
        "pool_uid_base": base,
        "pool_uid_count": int(settings["uid_count"]),
        "gid": int(settings["gid"]),
        "uid": base - 1,
    }
    for name, value in expected.items():
        if config[name] != value:
            raise ValueError(f"{name}={config[name]} differs from {value} in {LAUNCHER_CONFIG}")


def cache_dir(uid: int) -> str:
    return os.path.join(RUN_DIR, f"cache-{uid}")


def make_directories(uid: int, gid: int, client: Client) -> None:
    """Make RUN_DIR and the template's two directories, as root.

    Only root may create entries in RUN_DIR, so no other user can put a link in their place.
    """
    make_directory(RUN_DIR, 0, 0, 0o711)
    make_directory(os.path.join(RUN_DIR, f"templates-{uid}"), client.uid, client.gid, 0o700)
    make_directory(cache_dir(uid), uid, gid, 0o700)


def make_directory(path: str, uid: int, gid: int, mode: int) -> None:
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        pass
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        raise OSError(f"{path} exists and is not a directory")
    os.chown(path, uid, gid, follow_symlinks=False)
    os.chmod(path, mode)


def bind_socket(path: str, client: Client) -> socket.socket:
    """Listen on `path`, a socket only the client's uid may connect to (mode 0600, its owner)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.lexists(path):
        os.unlink(path)
    previous = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(previous)
    # Not following links: the client owns the directory and could swap the entry meanwhile.
    os.chown(path, client.uid, client.gid, follow_symlinks=False)
    listener.listen(LISTEN_BACKLOG)
    listener.setblocking(False)
    return listener


def peer_uid(connection: socket.socket) -> int:
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return struct.unpack("3i", credentials)[1]


def preload(names: list[str], uid: int) -> tuple[list[str], dict[str, str]]:
    """Import each module, and return those imported and, by name, why the others were not.

    matplotlib gets the Agg backend and pyplot, which builds its font cache once, in the
    template's cache directory.
    """
    os.environ["MPLCONFIGDIR"] = cache_dir(uid)
    preloaded: list[str] = []
    unavailable: dict[str, str] = {}
    for name in names:
        try:
            importlib.import_module(name)
            if name == "matplotlib":
                sys.modules["matplotlib"].use("Agg")
                importlib.import_module("matplotlib.pyplot")
        except Exception as error:
            unavailable[name] = f"{type(error).__name__}: {error}"
            continue
        preloaded.append(name)
    del os.environ["MPLCONFIGDIR"]
    return preloaded, unavailable


def validate_fork_safety() -> None:
    """Raise RuntimeError if a preloaded module started a thread.

    A child gets only the forking thread, and locks held by the others would stay locked in it.
    seccomp filters also bind only the thread that installs them.
    """
    threads = privileges.read_status()["Threads"]
    if threads != "1":
        raise RuntimeError(f"the template runs {threads} threads after preloading, 1 expected")


def read_vm_bytes() -> int:
    return int(privileges.read_status()["VmSize"].split()[0]) * 1024


def send(event: dict[str, Any]) -> None:
    """Write one event line to the service. The template never writes to sys.stdout."""
    data = (json.dumps(event) + "\n").encode("ascii")
    while data:
        data = data[os.write(1, data) :]
