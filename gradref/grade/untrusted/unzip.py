"""Zip uploads, unpacked safely before grading.

Nothing in a zip is trusted: a member's name may leave the folder (`../x`, `/etc/x`, `C:\\x`), be
a link, or claim one size and hold another. Members are written one by one into a fresh folder, at
most MAX_MEMBERS of them, each read in chunks and cut off at the caps on the total size and the
compression ratio, so a zip bomb costs at most MAX_TOTAL_BYTES of disk before it is refused. Each
refusal is one sentence (CannotGrade). Folders of macOS metadata are skipped.
"""

import os
import stat
import zipfile

from .refusal import CannotGrade

MAX_MEMBERS = 1000
MAX_TOTAL_BYTES = 64 << 20  # unpacked; a course submission is well under 1 MB of code
MAX_RATIO = 100  # unpacked / packed, per member and in all (text compresses 3-10x)
CHUNK = 1 << 16
SKIPPED = ("__MACOSX/", ".DS_Store")


def _safe_name(name):
    """The member's relative path parts, or None when the name would leave the folder."""
    if not name or "\x00" in name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return parts


def _is_link(info):
    return stat.S_ISLNK(info.external_attr >> 16)


def unpack(archive, dest):
    """Unpack the zip at `archive` into the new folder `dest`; CannotGrade with one sentence if it is
    not a zip or breaks a rule."""
    name = os.path.basename(archive)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise CannotGrade(f"{name} is not a readable zip file ({error})") from None
    with zf:
        members = [m for m in zf.infolist() if not m.filename.startswith(SKIPPED) and "/.DS_Store" not in m.filename]
        if len(members) > MAX_MEMBERS:
            raise CannotGrade(f"{name} holds {len(members)} entries, more than the {MAX_MEMBERS} a submission may hold")
        packed_total = sum(m.compress_size for m in members) or 1
        written = 0
        os.makedirs(dest, exist_ok=False)
        for member in members:
            parts = _safe_name(member.filename)
            if parts is None:
                raise CannotGrade(f"{name} holds {member.filename!r}, a path that leaves the submission's folder")
            if _is_link(member):
                raise CannotGrade(f"{name} holds a link, {member.filename!r}: gradref never follows links")
            if not parts:
                continue
            target = os.path.join(dest, *parts)
            if member.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            written = _copy_member(zf, member, target, name, written, packed_total)


def _copy_member(zf, member, target, name, written, packed_total):
    """Write one member in chunks, stopping at the caps; returns the bytes written in all."""
    size = 0
    try:
        with zf.open(member) as source, open(target, "xb") as sink:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                written += len(chunk)
                if written > MAX_TOTAL_BYTES:
                    raise CannotGrade(
                        f"{name} unpacks to more than {MAX_TOTAL_BYTES >> 20} MB, more than a submission may hold"
                    )
                if size > CHUNK and (
                    size > MAX_RATIO * max(member.compress_size, 1) or written > MAX_RATIO * packed_total
                ):
                    raise CannotGrade(
                        f"{name} unpacks more than {MAX_RATIO} times its packed size, as a zip bomb does: it is refused"
                    )
                sink.write(chunk)
    except FileExistsError:
        raise CannotGrade(f"{name} holds {member.filename!r} twice") from None
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, OSError) as error:
        raise CannotGrade(f"{name} could not be unpacked ({member.filename!r}: {error})") from None
    return written
