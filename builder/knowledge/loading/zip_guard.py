"""Checks on a docx/xlsx zip container made from its central directory alone, before any member
is unpacked. The declared sizes can be trusted as a bound: Python's zipfile stops reading a member
at its declared size and fails the CRC check if the data goes on (so a lying header ends as a
damaged file, not as a bigger one)."""

from __future__ import annotations

import zipfile

from builder.knowledge.loading.errors import DocumentError, ErrorCode
from builder.knowledge.loading.limits import LoadLimits


def check_zip_container(archive: zipfile.ZipFile, *, kind: str, limits: LoadLimits) -> None:
    members = archive.infolist()
    if len(members) > limits.max_zip_members:
        raise DocumentError(ErrorCode.ZIP_BOMB, kind=kind)
    total = 0
    for member in members:
        total += member.file_size
        if total > limits.max_unzipped_bytes:
            raise DocumentError(ErrorCode.ZIP_BOMB, kind=kind)
        ratio_exceeded = member.file_size > limits.max_zip_ratio * max(member.compress_size, 1)
        if member.file_size > limits.zip_ratio_grace_bytes and ratio_exceeded:
            raise DocumentError(ErrorCode.ZIP_BOMB, kind=kind)
