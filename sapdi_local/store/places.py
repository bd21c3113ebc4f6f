"""Where a database file sits, and what that allows: a place that cannot be written (a
read-only folder or mount, a file of another user) is read without writing anything, and a
network filesystem is not written to unless the user says only one machine writes there.

SQLite's write-ahead log keeps its index in shared memory beside the file and relies on
file locks; over NFS, SMB or a FUSE mount of a remote disk neither is reliable between
machines, and two writers there can corrupt the file.
"""

from __future__ import annotations

import os
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
ALLOW_NETWORK_ENV_VAR = "SAPDI_LOCAL_ALLOW_NETWORK_FS"
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "9p",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "beegfs",
        "davfs",
        "fuse.sshfs",
        "fuse.rclone",
        "fuse.s3fs",
        "fuse.gcsfuse",
        "fuse.goofys",
        "fuse.davfs2",
        "fuse.juicefs",
        "fuse.blobfuse",
        "fuse.blobfuse2",
        "fuse.mountpoint-s3",
        "fuse.glusterfs",
        "fuse.ceph-fuse",
        "fuse.cephfs",
        "fuse.mfs",
        "fuse.lizardfs",
        "fuse.smbnetfs",
    }
)


def filesystem_type(path: Path, *, mountinfo: Path | None = None) -> str | None:
    """The type of the filesystem holding ``path`` (or the folder it would be made in), as
    the kernel names it (``ext4``, ``nfs4``, ``fuse.sshfs``); None where the mount table
    cannot be read (not Linux).

    >>> filesystem_type(Path("/proc/self"))
    'proc'
    """
    try:
        table = (mountinfo or MOUNTINFO).read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None
    place = _existing_ancestor(path)
    best: tuple[int, str] | None = None
    for line in table.splitlines():
        fields = line.split(" ")
        if " - " not in line or len(fields) < 5:
            continue
        mount_point = _unescape(fields[4])
        fstype = line.split(" - ", 1)[1].split(" ", 1)[0]
        if _is_within(place, mount_point) and (best is None or len(mount_point) >= best[0]):
            best = (len(mount_point), fstype)
    return None if best is None else best[1]


def is_network_filesystem(fstype: str | None) -> bool:
    """True for filesystems that reach another machine's disk."""
    return fstype is not None and fstype in NETWORK_FILESYSTEMS


def network_write_refusal(path: Path, *, mountinfo: Path | None = None) -> str | None:
    """Why ``path`` must not be written to, when it sits on a network filesystem and the
    user has not said that only one machine writes to it; else None."""
    fstype = filesystem_type(path, mountinfo=mountinfo)
    if not is_network_filesystem(fstype) or os.environ.get(ALLOW_NETWORK_ENV_VAR) == "1":
        return None
    return (
        f"{path} is on a network filesystem ({fstype}), where SQLite's locks and write-ahead "
        "log are not reliable and two writers can corrupt the file; keep the database on a "
        "local disk (set SAPDI_LOCAL_DB or db_path= to a local file) and share it with "
        "`sapdi-local export` and `sapdi-local merge`, or send runs to an MLflow server with "
        f"`sapdi-local push mlflow`. Reading it works. If only this machine ever writes to "
        f"it, set {ALLOW_NETWORK_ENV_VAR}=1 to write there anyway"
    )


def read_only_reason(path: Path) -> str | None:
    """Why an existing database at ``path`` can only be read here (the file, its folder or
    its -wal/-shm files cannot be written by this process), else None."""
    beside = [path.with_name(path.name + end) for end in ("-wal", "-shm")]
    blocked = [
        str(part) for part in (path, *beside) if part.exists() and not os.access(part, os.W_OK)
    ]
    if not os.access(path.parent, os.W_OK):
        blocked.append(f"{path.parent} (the folder)")
    if not blocked:
        return None
    return f"{', '.join(blocked)} cannot be written by this process"


def on_read_only_filesystem(path: Path) -> bool:
    """True when ``path``'s folder is on a filesystem mounted read-only."""
    try:
        return bool(os.statvfs(_existing_ancestor(path)).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _existing_ancestor(path: Path) -> str:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return os.path.realpath(candidate)
    return "/"


def _is_within(place: str, mount_point: str) -> bool:
    return place == mount_point or place.startswith(mount_point.rstrip("/") + "/")


def _unescape(field: str) -> str:
    """Mount points in mountinfo write space, tab, newline and backslash as octal escapes."""
    for code, character in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, character)
    return field
