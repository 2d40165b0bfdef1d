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
MAX_DEPTH = 32  # folders deep; a course's assignment folder is 3-4 deep
MAX_PART = 255  # bytes in one name, as file systems allow
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
            _check_path(name, member.filename, parts)
            target = os.path.join(dest, *parts)
            try:
                os.makedirs(target if member.is_dir() else os.path.dirname(target), exist_ok=True)
            except OSError as error:  # a file where a folder must go (or the reverse), a name the disk refuses
                raise CannotGrade(
                    f"{name} could not be unpacked ({_shown(member.filename)}: {error.strerror})"
                ) from None
            if not member.is_dir():
                written = _copy_member(zf, member, target, name, written, packed_total)


def _check_path(name, filename, parts):
    """A member no deeper than MAX_DEPTH folders, with no name longer than a file system allows."""
    if len(parts) > MAX_DEPTH:
        raise CannotGrade(
            f"{name} holds {_shown(filename)}, {len(parts)} folders deep, deeper than the {MAX_DEPTH} a submission may go"
        )
    longest = max(parts, key=lambda part: len(part.encode("utf-8", "surrogateescape")))
    if len(longest.encode("utf-8", "surrogateescape")) > MAX_PART:
        raise CannotGrade(
            f"{name} holds a name of {len(longest)} characters, longer than the {MAX_PART} a file system allows"
        )


def _shown(filename):
    """A member's name as a message shows it: quoted, and shortened past 80 characters."""
    return repr(filename if len(filename) <= 80 else filename[:77] + "...")


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
        raise CannotGrade(f"{name} holds {_shown(member.filename)} twice") from None
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, OSError) as error:
        raise CannotGrade(f"{name} could not be unpacked ({_shown(member.filename)}: {error})") from None
    return written
