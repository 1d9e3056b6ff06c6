"""SERVICE to the allow-list only, enforced by the kernel where the query runs.

A query worker that may federate (``SERVICE_ALLOWLIST`` not empty) cannot use
the seccomp filter of ``endpoint/sandbox.py``, which forbids every network
socket. Instead it calls :func:`enter` first thing, which moves it into a new
network namespace holding nothing but a loopback interface, and a new mount
namespace whose ``/etc/hosts`` maps each allow-listed host name to a loopback
address of its own (127.0.0.2, 127.0.0.3, …; an IP-literal target keeps its
address, ``localhost`` is 127.0.0.1). Name resolution reads that file only (no
resolver is configured or reachable). On each target's (address, port) a relay
thread listens inside the namespace; what it accepts it passes, byte for byte,
to the :class:`Forwarder` in the server process, over a Unix socket (a file
path, which every network namespace reaches), naming the target by its index
in the allow-list. The forwarder opens the only connection that leaves: to
that target's real host and port. TLS is end to end (SNI and certificate are
the real host's; the relays see ciphertext); plain http works the same way.

So a query can reach the allow-listed host:port pairs and nothing else: no
other address or port, no DNS, not the host's own loopback. Enforcement is per
host and port; the full IRI (path included) is checked before the query runs,
at parse level (``endpoint/guard.py``). A query naming another path on an
allow-listed host:port passes the kernel's check, not the guard's.

Every failure to set this up raises :class:`FederationError`: the server then
refuses to start with a non-empty allow-list (fail closed).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import ipaddress
import logging
import os
import re
import select
import shutil
import socket
import stat
import struct
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}
HEADER = struct.Struct("!H")  # the index of the target in the allow-list: all a client may choose
CHUNK = 65536
CONNECT_TIMEOUT = 10.0  # seconds to reach a target, or the forwarder
HEADER_TIMEOUT = 5.0  # seconds a client of the forwarder has to name its target
SOCKET_NAME = "federation.sock"
IDLE = 30.0  # seconds without a byte either way before a relay is ended
RELAYS_PER_WORKER = 8  # concurrent SERVICE connections one query worker may hold
FIRST_NAME_ADDRESS = ipaddress.IPv4Address("127.0.0.2")  # host names get this one and the next ones

# <sched.h>, <sys/mount.h>, <linux/sockios.h>, <linux/capability.h>
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
SIOCGIFFLAGS, SIOCSIFFLAGS, SIOCSIFADDR, SIOCSIFNETMASK = 0x8913, 0x8914, 0x8916, 0x891C
IFF_UP = 0x1
CAP_SYS_ADMIN = 21
IFREQ_SIZE = 40  # struct ifreq on 64-bit Linux
NSCD_DIR = "/var/run/nscd"  # glibc asks nscd (a Unix socket) before reading nsswitch.conf


class FederationError(RuntimeError):
    """The federation path could not be set up: the process must not execute queries."""


@dataclass(frozen=True)
class Target:
    """One allow-listed endpoint: connections may go to (host, port), for any path."""

    scheme: str  # "http" or "https"
    host: str  # a lower-case host name, or an IP address (IPv6 without brackets)
    port: int
    iri: str  # the allow-list entry as written


# -- the allow-list ------------------------------------------------------------------------------

LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")  # a resolver may read such a name as an address
FORBIDDEN = re.compile(r"[\x00-\x20\x7f<>\"{}|\\^`]")  # not in an IRI, and urlsplit drops some


def parse_allowlist(iris: list[str]) -> list[Target]:
    """The allow-list's endpoint IRIs as targets; ValueError naming the first bad entry.
    Pass the same list, in the same order, to :class:`Forwarder` and :func:`enter`."""
    if len(iris) > 1 << 8 * HEADER.size:
        raise ValueError(f"SERVICE_ALLOWLIST: {len(iris)} entries; the forwarder takes at most "
                         f"{1 << 8 * HEADER.size}")
    return [_target(iri) for iri in iris]


def _target(iri: str) -> Target:
    if not isinstance(iri, str) or FORBIDDEN.search(iri):
        raise ValueError(f"SERVICE_ALLOWLIST: {iri!r} is not an IRI (space, control or forbidden "
                         f"character)")
    try:
        parts = urlsplit(iri)
    except ValueError as err:  # an unbalanced or invalid bracketed host
        raise ValueError(f"SERVICE_ALLOWLIST: {iri!r}: {err}") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError(f"SERVICE_ALLOWLIST: {iri!r} must start with http:// or https://")
    if "@" in parts.netloc:
        raise ValueError(f"SERVICE_ALLOWLIST: {iri!r} must not carry a user name or password")
    try:
        port = DEFAULT_PORTS[parts.scheme] if parts.port is None else parts.port
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ValueError(f"SERVICE_ALLOWLIST: {iri!r} has an invalid port")
    if not parts.hostname:
        raise ValueError(f"SERVICE_ALLOWLIST: {iri!r} has no host")
    bracketed = parts.netloc.rsplit("@", 1)[-1].startswith("[")
    return Target(parts.scheme, _host(parts.hostname, bracketed, iri), port, iri)


def _host(host: str, bracketed: bool, iri: str) -> str:
    """The host as a connection needs it: an IP address, or a plain DNS name (lower case)."""
    if bracketed:
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"SERVICE_ALLOWLIST: {iri!r}: [{host}] is not an IPv6 address") from None
        if address.ipv4_mapped or address.scope_id:
            raise ValueError(f"SERVICE_ALLOWLIST: {iri!r}: an IPv4-mapped or zoned IPv6 address "
                             f"(write the IPv4 address, or a global IPv6 one)")
        return _usable(address, iri)
    try:
        return _usable(ipaddress.IPv4Address(host), iri)
    except ipaddress.AddressValueError:
        pass
    labels = host.split(".")
    if (len(host) > 253 or not all(LABEL.fullmatch(label) for label in labels)
            or NUMERIC_LABEL.fullmatch(labels[-1])):
        raise ValueError(f"SERVICE_ALLOWLIST: {iri!r}: {host!r} is neither a dotted IPv4 address, "
                         f"a bracketed IPv6 address nor a host name (ASCII; xn-- form for others)")
    return host


def _usable(address: ipaddress.IPv4Address | ipaddress.IPv6Address, iri: str) -> str:
    reserved = address.is_reserved and not address.is_loopback  # IPv6's ::/8 holds ::1
    if address.is_unspecified or address.is_multicast or reserved or address.is_link_local:
        raise ValueError(f"SERVICE_ALLOWLIST: {iri!r}: {address} is not a unicast address a "
                         f"SERVICE may call (unspecified, multicast, reserved or link-local)")
    return str(address)


# -- relaying bytes ------------------------------------------------------------------------------


def relay(a: socket.socket, b: socket.socket, idle: float) -> None:
    """Copy bytes both ways until both sides have finished sending, or nothing moves for
    ``idle`` seconds (a peer that stops reading for that long ends it too); closes both."""
    peers = {a.fileno(): (a, b), b.fileno(): (b, a)}
    poller = select.poll()  # not select(): descriptors in a busy server exceed 1024
    for fd in peers:
        poller.register(fd, select.POLLIN)
    sending = len(peers)
    try:
        a.settimeout(idle)
        b.settimeout(idle)
        while sending:
            events = poller.poll(idle * 1000)
            if not events:
                return
            for fd, _ in events:
                src, dst = peers[fd]
                data = src.recv(CHUNK)
                if data:
                    dst.sendall(data)
                else:  # this side is done: say so to the other and keep the way back open
                    poller.unregister(fd)
                    sending -= 1
                    dst.shutdown(socket.SHUT_WR)
    except OSError:
        return
    finally:
        a.close()
        b.close()


# -- the forwarder (server process) --------------------------------------------------------------


class Forwarder:
    """The one path out: a Unix socket (0600) whose clients name a target by its index;
    each is relayed to that target's host and port, and nowhere else."""

    def __init__(self, targets: list[Target], run_dir: Path, max_relays: int = 32,
                 idle: float = IDLE) -> None:
        self.targets = tuple(targets)
        self.idle = idle
        self.path = str(Path(run_dir) / SOCKET_NAME)
        self._slots = threading.BoundedSemaphore(max_relays)
        self._live: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._listener = _listen_unix(self.path)
        self._thread = threading.Thread(target=self._serve, name="federation-forwarder", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue  # the listener wakes twice a second to notice close()
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                conn.close()  # as many relays as allowed are running: refused, not queued
                continue
            threading.Thread(target=self._forward, args=(conn,), daemon=True).start()

    def _forward(self, conn: socket.socket) -> None:
        upstream = None
        try:
            self._track(conn)
            target = self._requested(conn)
            if target is None:
                return
            try:
                upstream = socket.create_connection((target.host, target.port), CONNECT_TIMEOUT)
            except OSError as err:
                log.warning("federation: %s:%d unreachable: %s", target.host, target.port, err)
                return
            self._track(upstream)
            relay(conn, upstream, self.idle)
        finally:
            for sock in (conn, upstream):
                if sock is not None:
                    self._untrack(sock)
                    sock.close()
            self._slots.release()

    def _requested(self, conn: socket.socket) -> Target | None:
        """The target the header names, or None (closed in time, or no such index)."""
        conn.settimeout(HEADER_TIMEOUT)
        try:
            header = conn.recv(HEADER.size, socket.MSG_WAITALL)
        except OSError:
            return None
        if len(header) != HEADER.size:
            return None
        (index,) = HEADER.unpack(header)
        return self.targets[index] if index < len(self.targets) else None

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._live.add(sock)
        if self._closed.is_set():  # close() ran meanwhile: this relay ends at once too
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._live.discard(sock)

    def close(self) -> None:
        """Stop accepting, end the running relays, remove the socket file."""
        self._closed.set()
        self._thread.join(5)
        self._listener.close()
        with self._lock:
            live = list(self._live)
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the relay's poll; it closes both
            except OSError:
                pass
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _listen_unix(path: str) -> socket.socket:
    """A listening Unix socket at path, mode 0600 before anyone can connect."""
    if len(os.fsencode(path)) > 107:
        raise FederationError(f"{path}: too long for a Unix socket (107 bytes at most): set "
                              "TMPDIR to a shorter folder")
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)  # left by a server that died
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        os.chmod(path, 0o600)  # connect() fails until listen(): no window with a wider mode
        listener.listen(64)
    except OSError as err:
        listener.close()
        raise FederationError(f"the federation forwarder cannot listen at {path}: {err}") from None
    listener.settimeout(0.5)
    return listener


# -- the query worker's side ---------------------------------------------------------------------


def enter(targets: list[Target], forwarder_path: str) -> None:
    """Confine this process (freshly spawned, one thread) to the targets, through the forwarder."""
    try:
        _enter(list(targets), forwarder_path)
    except FederationError:
        raise
    except (OSError, ValueError) as err:
        raise FederationError(f"the query worker could not be confined: {err}") from None


def _enter(targets: list[Target], forwarder_path: str) -> None:
    if not stat.S_ISSOCK(os.stat(forwarder_path).st_mode):
        raise FederationError(f"{forwarder_path} is not the federation forwarder's socket")
    if len(os.listdir("/proc/self/task")) != 1:
        raise FederationError("enter() must run before any thread starts: namespaces are per "
                              "thread, a thread started earlier would keep the host's network")
    before = os.stat("/proc/self/ns/net").st_ino
    _unshare()
    if os.stat("/proc/self/ns/net").st_ino == before:
        raise FederationError("unshare() returned but the process is still in the host's network")
    _loopback_up()
    addresses = relay_addresses(targets)
    for number, address in enumerate(sorted(set(addresses.values()))):
        _add_address(address, number)
    _private_mounts(addresses)
    _start_relays(targets, addresses, forwarder_path)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        raise FederationError(f"{what} failed: {os.strerror(ctypes.get_errno())}")


def _unshare() -> None:
    """New network and mount namespaces; inside a new user namespace when not privileged."""
    libc = _libc()
    if _has_capability(CAP_SYS_ADMIN):
        _check(libc.unshare(CLONE_NEWNET | CLONE_NEWNS), "unshare(network, mount)")
        return
    uid, gid = os.getuid(), os.getgid()
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS), "unshare(user, network, mount)")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")


def _has_capability(number: int) -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> number & 1)
    return False


def _ifreq(name: str, payload: bytes = b"") -> bytes:
    return struct.pack("16s", name.encode()) + payload.ljust(IFREQ_SIZE - 16, b"\0")


def _loopback_up() -> None:
    """A new network namespace's loopback is down: bring it up (127.0.0.0/8 and ::1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        reply = fcntl.ioctl(sock, SIOCGIFFLAGS, _ifreq("lo"))
        flags = struct.unpack_from("H", reply, 16)[0]
        fcntl.ioctl(sock, SIOCSIFFLAGS, _ifreq("lo", struct.pack("H", flags | IFF_UP)))


def relay_addresses(targets: list[Target]) -> dict[str, str]:
    """Each target host's address inside the namespace: IP literals keep theirs, ``localhost``
    is 127.0.0.1, other names get 127.0.0.2, 127.0.0.3, … in order, skipping literals."""
    taken = {t.host for t in targets if _is_ip(t.host)}
    addresses: dict[str, str] = {"localhost": "127.0.0.1"} if any(
        t.host == "localhost" for t in targets) else {}
    candidate = FIRST_NAME_ADDRESS
    for target in targets:
        if target.host in addresses:
            continue
        if _is_ip(target.host):
            addresses[target.host] = target.host
            continue
        while str(candidate) in taken:
            candidate += 1
        addresses[target.host] = str(candidate)
        taken.add(str(candidate))
    return addresses


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _add_address(address: str, number: int) -> None:
    """Put a non-loopback literal target's address on lo, so the relay can listen on it."""
    ip = ipaddress.ip_address(address)
    if ip.is_loopback:
        return  # 127.0.0.0/8 and ::1 are already there
    if ip.version == 4:
        alias = f"lo:{number}"  # an IPv4 alias of lo, as ifconfig makes them
        sockaddr = struct.pack("=HH4s8x", socket.AF_INET, 0, ip.packed)
        netmask = struct.pack("=HH4s8x", socket.AF_INET, 0, b"\xff" * 4)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            fcntl.ioctl(sock, SIOCSIFADDR, _ifreq(alias, sockaddr))
            fcntl.ioctl(sock, SIOCSIFNETMASK, _ifreq(alias, netmask))
    else:
        in6_ifreq = struct.pack("=16sIi", ip.packed, 128, socket.if_nametoindex("lo"))
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            fcntl.ioctl(sock, SIOCSIFADDR, in6_ifreq)


def _private_mounts(addresses: dict[str, str]) -> None:
    """Stop mount events propagating to the host, then lay our name files over the system's."""
    libc = _libc()
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                           ctypes.c_void_p]
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "making mounts private")
    scratch = Path(tempfile.mkdtemp(prefix="senacs-kg-federation-"))
    try:
        hosts = ["# endpoint/federation.py: the allow-listed hosts, each on a loopback address "
                 "where a relay listens", "127.0.0.1 localhost"]
        hosts += [f"{address} {host}" for host, address in addresses.items()
                  if host != "localhost" and not _is_ip(host)]
        overlays = {"/etc/hosts": "\n".join(hosts) + "\n"}
        if os.path.exists("/etc/nsswitch.conf"):
            overlays["/etc/nsswitch.conf"] = _files_only(Path("/etc/nsswitch.conf").read_text())
        if os.path.exists("/etc/resolv.conf"):
            overlays["/etc/resolv.conf"] = "# no resolver: names come from /etc/hosts only\n"
        for index, (target, text) in enumerate(overlays.items()):
            source = scratch / str(index)
            source.write_text(text)
            _bind(libc, source, target)
        if os.path.isdir(NSCD_DIR):
            empty = scratch / "empty"
            empty.mkdir()
            _bind(libc, empty, NSCD_DIR)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the mounts keep what they show
    if Path("/etc/hosts").read_text() != overlays["/etc/hosts"]:
        raise FederationError("/etc/hosts does not show the federation's names after the mount")


def _files_only(nsswitch: str) -> str:
    """nsswitch.conf with host names looked up in /etc/hosts only (no dns, resolve, mdns…)."""
    lines = [line for line in nsswitch.splitlines() if not line.strip().startswith("hosts:")]
    return "\n".join(lines + ["hosts: files"]) + "\n"


def _bind(libc: ctypes.CDLL, source: Path, target: str) -> None:
    _check(libc.mount(os.fsencode(source), os.fsencode(target), None, MS_BIND, None),
           f"mounting over {target}")


def _start_relays(targets: list[Target], addresses: dict[str, str], forwarder_path: str) -> None:
    """One listener per distinct (address, port), each passing connections to the forwarder."""
    slots = threading.BoundedSemaphore(RELAYS_PER_WORKER)
    seen: set[tuple[str, int]] = set()
    for index, target in enumerate(targets):
        where = (addresses[target.host], target.port)
        if where in seen:
            continue  # same host and port as an earlier entry: that entry's relay serves both
        seen.add(where)
        try:
            listener = _listen_tcp(where)
        except OSError as err:
            raise FederationError(f"no relay for {target.iri} on {where[0]} port {where[1]}: "
                                  f"{err}") from None
        threading.Thread(target=_accept, args=(listener, index, forwarder_path, slots),
                         name=f"federation-relay-{index}", daemon=True).start()


def _listen_tcp(where: tuple[str, int]) -> socket.socket:
    """A listener on (address, port); an IPv6 address just put on lo is usable a moment later
    (the kernel completes its setup asynchronously), so that case is retried for 2 s."""
    deadline = time.monotonic() + 2.0
    while True:
        listener = socket.socket(socket.AF_INET6 if ":" in where[0] else socket.AF_INET)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(where)
            listener.listen(16)
            return listener
        except OSError as err:
            listener.close()
            if err.errno != errno.EADDRNOTAVAIL or time.monotonic() > deadline:
                raise
        time.sleep(0.02)


def _accept(listener: socket.socket, index: int, forwarder_path: str,
            slots: threading.BoundedSemaphore) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:  # out of descriptors, say: try again shortly, never go around the relay
            time.sleep(0.1)
            continue
        if not slots.acquire(blocking=False):
            client.close()
            continue
        threading.Thread(target=_to_forwarder, args=(client, index, forwarder_path, slots),
                         daemon=True).start()


def _to_forwarder(client: socket.socket, index: int, forwarder_path: str,
                  slots: threading.BoundedSemaphore) -> None:
    """Pass one connection to the forwarder; if it cannot be reached, the connection just closes."""
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.settimeout(CONNECT_TIMEOUT)
        upstream.connect(forwarder_path)
        upstream.sendall(HEADER.pack(index))
    except OSError:
        upstream.close()
        client.close()
        slots.release()
        return
    try:
        relay(client, upstream, IDLE)
    finally:
        slots.release()
