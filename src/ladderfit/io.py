"""Input and output files: checked before any work, outputs written atomically.

:func:`check_input` says what a path given to read is when it cannot be read as a file of text
or data: missing, a symlink loop, a named pipe or device (reading would block or never end),
a gzip, zip or Excel file under a ``.csv`` name.

:func:`check_output` says, before a command fits anything, whether a path can be written
(its folder exists and is writable, its extension is one the writer knows, it is not one of
the command's inputs). :func:`atomic_write` writes to a temporary file in the same folder and
moves it into place with :func:`os.replace`, so a write that fails partway (disk full, an
interrupt) leaves the previous file, or none, never a truncated one.

:func:`interrupt_guard` remembers a Ctrl-C even where it was swallowed (a KeyboardInterrupt
raised inside a callback of XLA's C++ code is lost there): :func:`check_interrupt` then raises it
again, and :func:`atomic_path` never moves a file into place after one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import LadderDataError

__all__ = ["OUTPUT_KINDS", "check_input", "check_output", "atomic_write", "atomic_path", "interrupt_guard", "check_interrupt",
           "interrupted"]

#: What each kind of output may be called.
OUTPUT_KINDS: dict[str, tuple[str, ...]] = {
    "table": (".csv",),
    "fit": (".nc",),
    "figure": (".png", ".pdf", ".svg", ".jpg", ".jpeg"),
}
_WHAT = {"table": "a CSV table", "fit": "a saved fit (netCDF)", "figure": "a figure"}


#: The first bytes of files that are not text, what they are, the suffixes under which a reader
#: takes them (pandas unpacks ``.gz`` and ``.zip``) and what to do instead.
_MAGIC = (
    (b"\x1f\x8b", "is gzip-compressed, not text CSV", (".gz",), "name it .csv.gz or gunzip it"),
    (b"PK\x03\x04", "is an Excel (.xlsx) or zip file, not text CSV", (".zip",), "save it as CSV from the spreadsheet"),
    (b"\xd0\xcf\x11\xe0", "is an Excel (.xls) file, not text CSV", (), "save it as CSV from the spreadsheet"),
)
_NOT_REGULAR = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _stat(path: Path, where: str, expected: str, folder_ok: bool = False) -> os.stat_result:
    """``os.stat`` of ``path`` with a LadderDataError that says why it failed."""
    try:
        return os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            why = "a symlink loop (the link points, through other links, back to itself)"
        elif err.errno == errno.ENOENT and os.path.islink(path):
            why = f"a symlink to {os.readlink(path)!r}, which does not exist"
        elif err.errno in (errno.ENOENT, errno.ENOTDIR):
            why = "no such file or folder" if folder_ok else "no such file"
        else:
            why = err.strerror or type(err).__name__
        raise LadderDataError(f"{where}: {why}; expected {expected}") from None


def check_input(path: str | Path, expected: str, *, option: str | None = None, folder_ok: bool = False,
                text: bool = False) -> Path:
    """Check that ``path`` can be read as ``expected`` before reading it; return it.

    A LadderDataError names the path (and ``option``) and says what it is: missing, a symlink
    loop or a dangling link, a folder (unless ``folder_ok``), a named pipe, a device or a socket
    (never opened: reading could block for ever), or, with ``text``, a gzip, zip or Excel file
    under another suffix.
    """
    path = Path(path)
    where = f"{option} {str(path)!r}" if option else str(path)
    mode = _stat(path, where, expected, folder_ok).st_mode
    if stat.S_ISDIR(mode):
        if folder_ok:
            return path
        raise LadderDataError(f"{where}: is a folder; expected {expected}")
    for test, kind in _NOT_REGULAR:
        if test(mode):
            raise LadderDataError(f"{where}: is {kind}, not a regular file; expected {expected}")
    if text:
        with open(path, "rb") as fh:
            head = fh.read(4)
        for magic, what, suffixes, todo in _MAGIC:
            if head.startswith(magic) and path.suffix.lower() not in suffixes:
                raise LadderDataError(f"{where}: {what}; expected {expected}: {todo}")
    return path


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output(path: str | Path, kind: str, *, option: str = "--out", inputs: Iterable[str | Path | None] = ()) -> Path:
    """Check that ``path`` can be written as ``kind`` (``table``, ``fit``, ``figure``); return it.

    Raises :class:`~ladderfit.errors.LadderDataError` naming the option and what was expected.
    """
    path = Path(path)
    suffixes = OUTPUT_KINDS[kind]
    if path.suffix.lower() not in suffixes:
        got = f"{path.suffix!r}" if path.suffix else "no extension"
        raise LadderDataError(
            f"{option} {str(path)!r}: {got} is not a file type for {_WHAT[kind]}; expected {', '.join(suffixes)}"
        )
    if path.is_dir():
        raise LadderDataError(f"{option} {str(path)!r}: is a folder; expected a file name ending in {suffixes[0]}")
    for source in inputs:
        if source is not None and _same_file(path, Path(source)):
            raise LadderDataError(
                f"{option} {str(path)!r} is the input file {str(source)!r}; writing it would destroy the input: "
                "choose another output name"
            )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise LadderDataError(f"{option} {str(path)!r}: folder {str(folder)!r} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LadderDataError(f"{option} {str(path)!r}: folder {str(folder)!r} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise LadderDataError(f"{option} {str(path)!r}: the file exists and is not writable")
    _trial_write(path, folder, option)
    return path


def _trial_write(path: Path, folder: Path, option: str) -> None:
    """Create and remove a file where :func:`atomic_path` will write: a folder that passes
    ``os.access`` but holds no files (under ``/proc``, a read-only mount) fails now, not after the work."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".trial", dir=folder)
    except OSError as err:
        raise LadderDataError(f"{option} {str(path)!r}: folder {str(folder)!r} cannot hold files "
                              f"({err.strerror or err}); choose another folder") from None
    os.close(fd)
    os.unlink(tmp)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``, on failure it is removed."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    existed = path.exists()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=folder)
    except OSError as err:
        raise OSError(err.errno, f"{path}: cannot write in {str(folder)!r} ({err.strerror})") from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        mode = 0o666 & ~_umask()
        if existed:
            mode = path.stat().st_mode & 0o7777
        os.chmod(tmp, mode)
        check_interrupt()  # a Ctrl-C swallowed on the way keeps the previous file
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(err, OSError):
            left = "the previous file is unchanged" if existed else "no file was written"
            raise OSError(err.errno, f"{path}: writing failed ({err.strerror or err}); {left}") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write) -> Path:
    """Call ``write(tmp_path)`` and move the result to ``path`` atomically; return ``path``."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


_INTERRUPTED = threading.Event()


def interrupted() -> bool:
    """Whether a Ctrl-C came while :func:`interrupt_guard` was on (caught or swallowed)."""
    return _INTERRUPTED.is_set()


def check_interrupt() -> None:
    """Raise KeyboardInterrupt if a Ctrl-C came, even one swallowed where it was raised."""
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


def _on_sigint(signum, frame):
    _INTERRUPTED.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def interrupt_guard() -> Iterator[None]:
    """Remember every SIGINT while on (outside the main thread, where no handler can be set, only
    Python's own); the previous handler comes back after."""
    _INTERRUPTED.clear()
    try:
        previous = signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # not the main thread
        previous = None
    try:
        yield
    finally:
        _INTERRUPTED.clear()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
