"""The sandbox child: isolates itself, then runs the user's ``main(**inputs)`` and reports on a pipe.

The parent starts it as ``python -I -S -B child.py <result_fd> <config JSON>`` with an empty
environment, in its own session, with only stdin, stdout/stderr and the result pipe open. It sets
itself up from the config (which holds no secrets), then waits for the request (JSON: code,
inputs, CPU time) on stdin, so a warm sandbox can be started ahead of time. On ``result_fd`` (moved
to fd 3) it writes ``READY`` when the code starts, then the one result message (JSON): nothing the
user prints can pass for a result. This file is standalone on purpose (stdlib + pyseccomp): it runs
before and after the project's files disappear.

Isolation, in order. If any step fails, a ``setup_failed`` message is sent and no user code runs.

1. New mount, network, PID, IPC and UTS namespaces. Started as root (with CAP_SYS_ADMIN), the
   child creates them itself; otherwise it first enters a new user namespace mapping its uid to 0.
2. A fork, so the user's code runs as PID 1 of the new PID namespace: it sees no other process
   and everything it could leave behind dies with it. The first process only waits and turns
   the way its child ended into an exit status (``EXIT_SIGNAL_BASE`` + signal).
3. A fresh root on a tmpfs with read-only bind mounts of exactly what the interpreter needs (its
   executable, its standard library, the directories of the shared libraries it and the standard
   library's extension modules load, its ELF loader; see ``interpreter_needs``), with every
   site-packages/dist-packages among them covered by an empty read-only mount; the symbolic links
   on the way to them; /dev/{null,zero,random,urandom} and a small writable /tmp. Then
   ``pivot_root`` into it and detach the old root, so the project, /etc, /proc, /root, every
   installed package and the rest of /usr are gone: only the standard library can be imported.
4. Privileges dropped: started as root, the code runs as a random uid that owns nothing, with no
   groups; in a user namespace every capability is dropped. No new privileges, not dumpable.
5. (after the request arrives) rlimits: CPU, address space, file size, threads, open files, no
   core files; and a seccomp filter failing with EPERM the
   system calls such code has no business making (sockets, fork/exec, namespaces, mounts,
   tracing, keyrings, io_uring…). Foreign-architecture system calls kill the process.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import sys
from typing import Any, NoReturn

# How the first process reports that the sandboxed one was killed (it has no result pipe to use).
EXIT_SIGNAL_BASE = 128  # 128 + signal number, like a shell
# Statuses of the result message.
STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_SETUP_FAILED = "setup_failed"
# Sent on the result pipe, before the result message, when the code is about to run.
READY = b"R"
# Where the result pipe is moved (the server's number for it depends on how busy the server is).
RESULT_FD = 3
# The file name user code is compiled under: traceback frames with this name are the user's.
USER_FILENAME = "<code>"


def gettext_noop(message: str) -> str:
    """Marks a message for extraction (this file cannot import the project's ``builder.engine.i18n``)."""
    return message


# What the child says about the code's outcome: English templates the server translates for the
# reader (``runner._from_message`` accepts these, and only these, as a message's template).
NO_MAIN = gettext_noop("The code must define a function main(**inputs) that returns a dict.")
OUT_OF_MEMORY = gettext_noop("The code ran out of memory.")
CALLED_EXIT = gettext_noop("The code called exit(%(code)s) instead of returning a dict.")
NOT_A_DICT = gettext_noop("main() must return a dict, not %(type)s.")
NOT_JSON = gettext_noop("main() returned a value that is not JSON: %(error)s")
RESULT_TOO_LARGE = gettext_noop("The result is larger than %(limit)s bytes.")
TEMPLATES = frozenset({NO_MAIN, OUT_OF_MEMORY, CALLED_EXIT, NOT_A_DICT, NOT_JSON, RESULT_TOO_LARGE})

# Linux constants (a stable ABI, not exposed by Python 3.11's stdlib).
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWCGROUP = 0x02000000
CLONE_THREAD = 0x00010000
_NAMESPACE_FLAGS = (CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP)
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
SIGKILL = 9
EPERM = 1
ENOSYS = 38
# statvfs flag -> mount flag: a read-only remount must keep these, or a user namespace refuses it.
_KEPT_MOUNT_FLAGS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}
# Links the dynamic loader's default search paths go through (merged /usr: /lib -> usr/lib).
_LIBRARY_LINKS = ("/lib", "/lib64", "/lib32")
# Where packages are installed, relative to a directory shown to the code: covered by an empty mount.
_PACKAGE_DIRS = ("site-packages", "dist-packages", "python*/site-packages", "python*/dist-packages")
PT_INTERP = 3
_DEVICES = ("null", "zero", "random", "urandom")
# Library sonames for pyseccomp (see _import_pyseccomp).
_SONAMES = {"c": "libc.so.6", "seccomp": "libseccomp.so.2"}
# Failed with EPERM. Names unknown on this architecture (or to this libseccomp) are skipped.
_DENIED_SYSCALLS = (
    # network (the namespace has nothing but a loopback that is down: belt and braces)
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    # new processes and programs (threads stay possible: see the clone rule)
    "fork", "vfork", "execve", "execveat",
    # leaving the sandbox, or the process group the parent kills
    "unshare", "setns", "chroot", "pivot_root", "mount", "umount2", "mount_setattr", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "setsid", "setpgid",
    # other processes and the kernel
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_open", "pidfd_getfd",
    "pidfd_send_signal", "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "name_to_handle_at", "open_by_handle_at",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "syslog", "acct", "quotactl", "settimeofday", "clock_settime", "adjtimex",
    "clock_adjtime", "sethostname", "setdomainname", "iopl", "ioperm", "vhangup", "uselib",
    "personality", "lookup_dcookie", "fanotify_init", "nfsservctl",
)  # fmt: skip


class SetupError(Exception):
    """An isolation step failed: the user's code must not run."""


# --- libc ----------------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        raise SetupError(f"{what}: {os.strerror(ctypes.get_errno())}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    args = [None if value is None else value.encode() for value in (source, target, fstype, data)]
    _check(_libc.mount(args[0], args[1], args[2], ctypes.c_ulong(flags), args[3]), f"mount {target}")


def _prctl(option: int, arg: int) -> int:
    return int(_libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


# --- set-up (before the request) ---------------------------------------------------------------


def _import_pyseccomp(directory: str) -> Any:
    """Import pyseccomp from the parent's environment without its ~15 ms library search.

    pyseccomp finds libc and libseccomp with ``ctypes.util.find_library``, which imports
    subprocess and friends and runs ``ldconfig`` twice on every start. Their sonames are stable,
    so a stand-in answers instead; the real search is the fallback.
    """
    sys.path.append(directory)
    stand_in = type(sys)("ctypes.util")
    stand_in.find_library = _SONAMES.get  # type: ignore[attr-defined]
    sys.modules["ctypes.util"], ctypes.util = stand_in, stand_in  # type: ignore[attr-defined]
    try:
        import pyseccomp  # type: ignore[import-untyped]
    except OSError:
        sys.modules.pop("pyseccomp", None)
        del sys.modules["ctypes.util"], ctypes.util  # type: ignore[attr-defined]
        import pyseccomp
    finally:
        sys.modules.pop("ctypes.util", None)
        if getattr(ctypes, "util", None) is stand_in:
            del ctypes.util  # type: ignore[attr-defined]
        sys.path.remove(directory)
    return pyseccomp


def enter_namespaces(user_namespace: bool) -> bool:
    """Step 1: private mounts, no network, own PIDs/IPC/hostname; True if in a new user namespace.

    Without the privilege to create them directly (not root, or a root without CAP_SYS_ADMIN, as
    in many containers), a user namespace provides it.
    """
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if not user_namespace and _libc.unshare(flags) == 0:
        return False
    uid, gid = os.geteuid(), os.getegid()
    _check(_libc.unshare(flags | CLONE_NEWUSER), "unshare with a user namespace")
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)
    return True


def supervise(child_pid: int) -> NoReturn:
    """Step 2, in the first process: wait for the sandboxed one and exit saying how it ended."""
    os.closerange(0, 1024)
    _, status = os.waitpid(child_pid, 0)
    if os.WIFEXITED(status):
        os._exit(os.WEXITSTATUS(status))
    os._exit(EXIT_SIGNAL_BASE + os.WTERMSIG(status))


def interpreter_needs() -> dict[str, Any]:
    """What this interpreter runs from, found once per server process (``child.py --needs``).

    Its executable and standard library (``sys.path`` under ``-I -S`` is exactly that), the shared
    libraries it maps once every extension module of the standard library is loaded (so ``ssl``,
    ``sqlite3``, ``ctypes``… find theirs) and its ELF loader. Everything else, the site-packages
    of this interpreter and of any other, stays out of the sandbox.
    """
    import importlib
    import importlib.machinery

    here = os.path.dirname(os.path.realpath(__file__))
    stdlib = [os.path.realpath(path) for path in sys.path if os.path.exists(path)]
    stdlib = [path for path in stdlib if path != here]
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for directory in stdlib:
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            if name.endswith(suffixes):
                with contextlib.suppress(BaseException):  # a library this machine lacks: not needed then
                    importlib.import_module(name.split(".", 1)[0])
    library_dirs: set[str] = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].startswith("/") and os.path.isfile(fields[5].strip()):
                library_dirs.add(os.path.dirname(os.path.realpath(fields[5].strip())))
    executable = os.path.realpath(sys.executable)
    return {
        "executable": executable,
        "stdlib": stdlib,
        "library_dirs": sorted(library_dirs - {os.path.dirname(executable), *stdlib}),
        "loader": _elf_interpreter(executable),
    }


def _elf_interpreter(executable: str) -> str | None:
    """The loader an ELF executable names (PT_INTERP), as the kernel looks it up: through links."""
    import struct

    with open(executable, "rb") as handle:
        header = handle.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:  # not a 64-bit ELF: nothing to add
            return None
        order = "<" if header[5] == 1 else ">"
        phoff, = struct.unpack_from(order + "Q", header, 32)
        phentsize, phnum = struct.unpack_from(order + "HH", header, 54)
        for index in range(phnum):
            handle.seek(phoff + index * phentsize)
            p_type, _, p_offset, _, _, p_filesz = struct.unpack(order + "IIQQQQ", handle.read(40))
            if p_type == PT_INTERP:
                handle.seek(p_offset)
                return handle.read(p_filesz).rstrip(b"\0").decode()
    return None


def _resolve(path: str, links: dict[str, str], depth: int = 0) -> str:
    """The real path of ``path``; each symbolic link met on the way goes into ``links`` (to recreate)."""
    if depth > 40:
        raise SetupError(f"too many symbolic links: {path}")
    parts = [part for part in path.split("/") if part]
    current = "/"
    for index, part in enumerate(parts):
        candidate = os.path.join(current, part)
        if os.path.islink(candidate):
            target = os.readlink(candidate)
            links[candidate] = target
            rest = "/".join(parts[index + 1 :])
            return _resolve(os.path.normpath(os.path.join(current, target, rest)), links, depth + 1)
        current = candidate
    return current


def _read_only_paths(paths: list[str]) -> list[str]:
    """Existing paths to show read-only, parents first, without ones a parent already covers."""
    chosen: list[str] = []
    for path in sorted({os.path.normpath(path) for path in paths}, key=len):
        if os.path.lexists(path) and not _covered(path, chosen):
            chosen.append(path)
    return chosen


def _covered(path: str, parents: list[str]) -> bool:
    return any(path == parent or path.startswith(parent.rstrip("/") + "/") for parent in parents)


def _bind_read_only(source: str, target: str) -> None:
    _mount(source, target, None, MS_BIND)
    host_flags = os.statvfs(source).f_flag
    kept = sum(mount_flag for stat_flag, mount_flag in _KEPT_MOUNT_FLAGS.items() if host_flags & stat_flag)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept)


def _hide_packages(root: str, shown: list[str]) -> None:
    """An empty read-only mount over every package directory inside what is shown."""
    import glob

    for directory in shown:
        if not os.path.isdir(directory):
            continue
        for pattern in _PACKAGE_DIRS:
            for found in glob.glob(os.path.join(glob.escape(directory), pattern)):
                if os.path.isdir(found) and not os.path.islink(found):
                    _mount("tmpfs", root + found, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k")


def build_root(root: str, needs: dict[str, Any], tmp_size_mb: int, pivot_root_number: int) -> None:
    """Step 3: a minimal read-only root holding the interpreter, then ``pivot_root`` into it."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=4096")
    links: dict[str, str] = {}
    wanted = [needs["executable"], *needs["stdlib"], *needs["library_dirs"]]
    if needs.get("loader"):
        wanted.append(needs["loader"])
    links.update({path: os.readlink(path) for path in _LIBRARY_LINKS if os.path.islink(path)})
    shown = _read_only_paths([_resolve(path, links) for path in wanted if os.path.lexists(path)])
    for link, target in sorted(links.items()):
        if not _covered(link, shown):  # a link inside a shown directory is shown with it
            os.makedirs(os.path.dirname(root + link), exist_ok=True)
            os.symlink(target, root + link)
    for path in shown:
        target = root + path
        if os.path.isdir(path):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o444))
        _bind_read_only(path, target)
    _hide_packages(root, shown)
    os.mkdir(root + "/dev")
    for device in _DEVICES:
        os.close(os.open(f"{root}/dev/{device}", os.O_CREAT | os.O_WRONLY, 0o666))
        _mount(f"/dev/{device}", f"{root}/dev/{device}", None, MS_BIND)
    os.mkdir(root + "/tmp")
    tmp_options = f"mode=1777,size={tmp_size_mb}m,nr_inodes=4096"
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmp_options)
    os.chdir(root)
    _check(_libc.syscall(pivot_root_number, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detaching the old root")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir("/tmp")


def drop_privileges(run_as_uid: int | None) -> None:
    """Step 4: no capabilities (started as root: an unprivileged uid too), no new privileges."""
    for capability in range(64):
        if _prctl(PR_CAPBSET_DROP, capability) != 0:
            break  # EINVAL: past the last capability this kernel knows
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)  # fails harmlessly on kernels without ambient caps
    if run_as_uid is not None:
        os.setgroups([])
        os.setresgid(run_as_uid, run_as_uid, run_as_uid)
        os.setresuid(run_as_uid, run_as_uid, run_as_uid)
    header, data = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "dropping capabilities")
    _check(_prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
    _check(_prctl(PR_SET_DUMPABLE, 0), "not dumpable")
    # Set after the uid change, which clears it: die with the supervising process.
    _check(_prctl(PR_SET_PDEATHSIG, SIGKILL), "parent death signal")


def build_seccomp_filter(pyseccomp: Any) -> Any:
    denied = pyseccomp.ERRNO(EPERM)
    syscall_filter = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    for name in _DENIED_SYSCALLS:
        _add_rule(syscall_filter, denied, name)
    # clone() starts threads (CLONE_THREAD set) and processes (not set): only the latter is denied,
    # and so is a thread in new namespaces (no capability allows it anyway: belt and braces).
    _add_rule(syscall_filter, denied, "clone", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, CLONE_THREAD, 0))
    for namespace in _NAMESPACE_FLAGS:
        _add_rule(syscall_filter, denied, "clone", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, namespace, namespace))
    # clone3 keeps its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone().
    _add_rule(syscall_filter, pyseccomp.ERRNO(ENOSYS), "clone3")
    return syscall_filter


def _add_rule(syscall_filter: Any, action: int, name: str, *args: Any) -> None:
    with contextlib.suppress(OSError, RuntimeError, ValueError):  # not a system call on this architecture
        syscall_filter.add_rule(action, name, *args)


def set_up(config: dict[str, Any]) -> Any:
    """Steps 1-4; returns the seccomp filter to load once the request is in. Only the child returns."""
    pyseccomp = _import_pyseccomp(config["pyseccomp_dir"])
    pivot_root_number = int(pyseccomp.resolve_syscall(pyseccomp.system_arch(), "pivot_root"))
    syscall_filter = build_seccomp_filter(pyseccomp)
    user_namespace = enter_namespaces(config["mode"] == "user_namespace" or os.geteuid() != 0)
    child_pid = os.fork()
    if child_pid:
        supervise(child_pid)
    build_root(config["root"], config["needs"], int(config["tmp_size_mb"]), pivot_root_number)
    # Started as root: a uid no file and no other process belongs to (1 in 2**24 to meet another run's).
    drop_privileges(None if user_namespace else 0x10000000 + int.from_bytes(os.urandom(3), "big"))
    os.closerange(RESULT_FD + 1, 1 << 16)  # nothing but stdin, stdout/stderr and the result pipe
    sys.modules.pop("pyseccomp", None)
    # Needed once the code ran (tracebacks, linecache): imported while a warm sandbox waits.
    import traceback  # noqa: F401

    return syscall_filter


def apply_limits(config: dict[str, Any], cpu_time_s: int) -> None:
    """Step 5a: rlimits, soft == hard (so RLIMIT_CPU kills: PID 1 of a namespace ignores SIGXCPU)."""
    mb = 1024 * 1024
    settings = {
        resource.RLIMIT_CPU: cpu_time_s,
        resource.RLIMIT_AS: int(config["memory_mb"]) * mb,
        resource.RLIMIT_FSIZE: int(config["file_size_mb"]) * mb,
        resource.RLIMIT_NPROC: int(config["max_threads"]),
        resource.RLIMIT_NOFILE: int(config["max_open_files"]),
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_MEMLOCK: 0,
        resource.RLIMIT_MSGQUEUE: 0,
    }
    for which, value in settings.items():
        resource.setrlimit(which, (value, value))


# --- running the user's code -------------------------------------------------------------------


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[… {len(text) - limit} characters cut …]\n{text[-half:]}"


def _user_traceback(error: BaseException, max_chars: int) -> str:
    """The traceback with only the frames of the user's code, their lines included."""
    import traceback

    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == USER_FILENAME]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.StackSummary.from_list(frames).format()
    lines += traceback.format_exception_only(type(error), error)
    return _shorten("".join(lines), max_chars)


def _error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"status": STATUS_ERROR, "kind": kind, "message": message, **extra}


def _templated(kind: str, template: str, **params: Any) -> dict[str, Any]:
    return _error(kind, template % params, template=template, params=params)


def run_user_code(code: str, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Compile, define, call ``main(**inputs)``; the outcome as a result message."""
    import linecache

    max_chars = int(config["traceback_max_chars"])
    linecache.cache[USER_FILENAME] = (len(code), None, code.splitlines(True), USER_FILENAME)
    try:
        namespace: dict[str, Any] = {"__name__": "__sandbox__", "__builtins__": __builtins__}
        exec(compile(code, USER_FILENAME, "exec"), namespace)
        main = namespace.get("main")
        if not callable(main):
            return _templated("no_main", NO_MAIN)
        result = main(**inputs)
    except MemoryError:
        return _templated("memory", OUT_OF_MEMORY)
    except SystemExit as error:
        return _templated("exception", CALLED_EXIT, code=repr(error.code))
    except BaseException as error:
        return _exception(error, max_chars)
    if not isinstance(result, dict):
        return _templated("bad_result", NOT_A_DICT, type=type(result).__name__)
    try:
        encoded = json.dumps(result, allow_nan=False, ensure_ascii=False).encode()
    except MemoryError:
        return _templated("memory", OUT_OF_MEMORY)
    except BaseException as error:  # TypeError, ValueError (NaN, cycles), RecursionError, a failing __str__…
        return _templated("bad_result", NOT_JSON, error=_shorten(_text(error), 500))
    if len(encoded) > int(config["result_max_bytes"]):
        return _templated("output_too_large", RESULT_TOO_LARGE, limit=int(config["result_max_bytes"]))
    return {"status": STATUS_OK, "result": encoded.decode()}


def _exception(error: BaseException, max_chars: int) -> dict[str, Any]:
    try:
        traceback_text = _user_traceback(error, max_chars)
    except Exception:  # an exception whose message itself fails to render
        traceback_text = type(error).__name__
    return _error("exception", _shorten(_text(error), 500), type=type(error).__name__, traceback=traceback_text)


def _text(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:
        return f"<{type(error).__name__} whose message cannot be shown>"


def _report(fd: int, message: dict[str, Any]) -> None:
    view = memoryview(json.dumps(message).encode())
    while view:
        view = view[os.write(fd, view) :]


def _prepare_for_the_code() -> None:
    """Forget how the code was started; print lines in order (stdout and stderr share one pipe)."""
    sys.argv = ["main"]
    os.environ.clear()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]


def main(argv: list[str]) -> NoReturn:
    """The whole life of a sandbox, at a lower priority than the server from its first line."""
    inherited_fd, config = int(argv[1]), json.loads(argv[2])
    if inherited_fd != RESULT_FD:
        os.dup2(inherited_fd, RESULT_FD)
        os.close(inherited_fd)
    result_fd = RESULT_FD
    os.nice(10)  # set-up and code alike yield the CPU to the server
    os.umask(0o022)  # the new root's directories must be readable by the unprivileged uid
    _prctl(PR_SET_PDEATHSIG, SIGKILL)  # die with the server (checked just below, for the race)
    if os.getppid() != config["parent_pid"]:
        os._exit(1)
    try:
        syscall_filter = set_up(config)
        raw = sys.stdin.buffer.read()  # a warm sandbox waits here
        if not raw:
            os._exit(0)  # the pool was closed before this sandbox was needed
        request = json.loads(raw)
        apply_limits(config, int(request["cpu_time_s"]))
        syscall_filter.load()
        os.write(result_fd, READY)  # the code's time starts now
    except BaseException as error:
        _report(result_fd, {"status": STATUS_SETUP_FAILED, "message": f"{type(error).__name__}: {error}"})
        os._exit(0)
    _prepare_for_the_code()
    message = run_user_code(request["code"], request["inputs"], config)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # the code closed or broke its own output
    _report(result_fd, message)
    os._exit(0)


if __name__ == "__main__":
    if sys.argv[1:] == ["--needs"]:
        sys.stdout.write(json.dumps(interpreter_needs()))
        sys.exit(0)
    main(sys.argv)
