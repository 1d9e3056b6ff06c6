"""No network for the process that executes queries, enforced by the kernel (seccomp).

Oxigraph executes ``SERVICE <iri>`` by opening an HTTP connection from the
process that evaluates the query. Reading the query text before it runs can
refuse SERVICE (``endpoint/guard.py``), but a reader and the engine may
disagree on some text; the kernel cannot be talked round. ``confine()``
installs a seccomp filter on the calling process (all its threads, and every
thread and child it starts later) that makes ``socket()`` and ``socketpair()``
fail with EACCES whatever the address family, and refuses ``io_uring_setup``
(io_uring can open sockets without the ``socket`` system call). A query worker calls it
first, before it imports the engine: whatever a query says, the worker cannot
open a network connection, so no address (loopback, private, public) can be
reached from it. Its pipe to the server was opened before and keeps working.

The filter is a classic BPF program, small enough to read in full below; it
checks the system-call ABI first (a 32-bit or x32 system call from a 64-bit
process would otherwise bypass the numbers it checks) and kills the process on
a foreign ABI. Only Linux on x86-64 and AArch64 are supported; anywhere else
``confine()`` raises, and the store refuses to start (fail closed).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import socket
import struct

# <linux/audit.h>, <asm/unistd.h>: the ABI tag and the system-call numbers per architecture
ARCHES = {
    "x86_64": {"audit": 0xC000003E, "socket": 41, "socketpair": 53, "io_uring_setup": 425,
               "seccomp": 317,
               "x32_bit": 0x40000000, "setns": 308, "unshare": 272, "mount": 165},
    "aarch64": {"audit": 0xC00000B7, "socket": 198, "socketpair": 199, "io_uring_setup": 425,
                "seccomp": 277,
                "x32_bit": None, "setns": 268, "unshare": 97, "mount": 40},
}
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1  # every thread of the process, not only the caller
RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_EACCES = 0x00050000 | errno.EACCES  # SECCOMP_RET_ERRNO with the error number
# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0 = 0, 4, 16
# BPF opcodes (<linux/bpf_common.h>)
LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS: load 32 bits of seccomp_data
JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
RET_K = 0x06  # BPF_RET | BPF_K


class SandboxError(RuntimeError):
    """The filter could not be installed: the process must not execute queries."""


def _program(arch: dict, network: bool = False) -> list[tuple[int, int, int, int]]:
    """(code, jump if true, jump if false, k) instructions; jumps count from the next one.

    The refused calls: ``socket`` and ``socketpair`` of any family (the worker's pipe to the
    server exists before the filter; an AF_UNIX socket could still reach a local resolver
    daemon — nscd, systemd-resolved — and so the network), and ``io_uring_setup``. With
    ``network`` (a federation worker, already inside its own network namespace where only
    the allow-list's relays listen: endpoint/federation.py) sockets stay allowed and the
    calls that could leave or change that namespace are refused instead."""
    prog = [
        (LD_W_ABS, 0, 0, OFFSET_ARCH),
        (JEQ_K, 1, 0, arch["audit"]),
        (RET_K, 0, 0, RET_KILL_PROCESS),  # a foreign ABI: its numbers mean other calls
        (LD_W_ABS, 0, 0, OFFSET_NR),
    ]
    if arch["x32_bit"] is not None:
        prog += [(JGE_K, 0, 1, arch["x32_bit"]), (RET_K, 0, 0, RET_KILL_PROCESS)]
    refused = ([arch["setns"], arch["unshare"], arch["mount"], arch["io_uring_setup"]]
               if network else [arch["socket"], arch["socketpair"], arch["io_uring_setup"]])
    # each refused number jumps over the rest and the ALLOW to the final EACCES
    prog += [(JEQ_K, len(refused) - i, 0, nr) for i, nr in enumerate(refused)]
    return prog + [(RET_K, 0, 0, RET_ALLOW), (RET_K, 0, 0, RET_EACCES)]


def confine(network: bool = False) -> None:
    """Forbid network sockets to this process for the rest of its life (cannot be undone);
    with ``network``, forbid leaving or changing its network namespace instead."""
    machine = platform.machine()
    arch = ARCHES.get(machine)
    if os.uname().sysname != "Linux" or arch is None:
        raise SandboxError(f"the query sandbox needs Linux on x86_64 or aarch64, not "
                           f"{os.uname().sysname} on {machine}")
    prog = _program(arch, network)
    code = b"".join(struct.pack("HBBI", *ins) for ins in prog)
    buffer = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SandboxError(f"prctl(NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}")
    if libc.syscall(arch["seccomp"], SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC,
                    ctypes.byref(fprog)) != 0:
        raise SandboxError(f"seccomp filter refused: {os.strerror(ctypes.get_errno())}")
    if not network:
        _prove()


def _prove() -> None:
    """Check the filter works here: opening a socket of any family must now fail."""
    for family in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX):
        try:
            socket.socket(family, socket.SOCK_STREAM).close()
        except PermissionError:
            continue
        except OSError as err:
            if err.errno in (errno.EAFNOSUPPORT,):
                continue
            raise SandboxError(f"unexpected error while checking the sandbox: {err}") from None
        raise SandboxError("the seccomp filter is installed but a network socket still opens")
