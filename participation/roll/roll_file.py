"""Reading a roll file (CSV) row by row, without holding the file in memory.

The file names its columns on its first line: `document_id`, `birth_date` (YYYY-MM-DD) and
`postcode`, optionally `district`, in any order, separated by commas or semicolons. Each later line
is a person, or a rejection with its line number and why; blank lines are skipped. A file that
cannot be a roll at all (empty, binary, UTF-16, no such columns) is refused as a whole. No reason
ever repeats what the file holds.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from flask_babel import gettext as _

from participation.errors import InvalidInput
from participation.roll.services import Identity, parse_identity

REQUIRED_COLUMNS = ("document_id", "birth_date", "postcode")
OPTIONAL_COLUMNS = ("district",)
DISTRICT_MAX = 80
# A line longer than the caller's limit is skipped in pieces of this size, never held whole.
_SKIP_CHUNK = 64 * 1024


def _looks_like_text(raw: bytes) -> bool:
    """Whether a first line could be a text file's: UTF-8, no control characters but tabs."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(ord(c) < 32 and c != "\t" for c in text)


class UnreadableRoll(InvalidInput):
    """The file cannot be a roll: nothing of it was imported and the roll is as it was."""


@dataclass(frozen=True)
class RollRow:
    line: int
    identity: Identity
    district: str | None


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


class RollReader:
    """Iterate a roll file's rows (RollRow or Rejection); counts what it skipped on the way.

    `stream` is opened in binary: each line is read as UTF-8, or as Latin-1 when it is not UTF-8
    (Windows-1252, a spreadsheet's older export), which `latin1_lines` counts.
    """

    def __init__(self, stream: BinaryIO, *, max_line: int = 4096) -> None:
        self._stream = stream
        self._max_line = max_line
        self.blank_lines = 0
        self.latin1_lines = 0
        self.lines_read = 0
        self._columns, self._delimiter = self._read_header()

    def _physical_lines(self) -> Iterator[tuple[int, bytes | None]]:
        """(line number, bytes without the line end), or None for a line over the limit."""
        number = self.lines_read
        while True:
            raw = self._stream.readline(self._max_line + 1)
            if not raw:
                return
            number += 1
            self.lines_read = number
            if len(raw) > self._max_line and not raw.endswith(b"\n"):
                while (more := self._stream.readline(_SKIP_CHUNK)) and not more.endswith(b"\n"):
                    pass
                yield number, None
                continue
            yield number, raw.rstrip(b"\r\n")

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.latin1_lines += 1
        try:
            # What a spreadsheet on Windows saves as "ANSI": Latin-1 with a few more letters.
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    def _read_header(self) -> tuple[dict[str, int], str]:
        self._lines = self._physical_lines()
        for number, raw in self._lines:
            if raw is None:
                raise UnreadableRoll(_("The first line of the file is longer than "
                                       "%(max)s characters: this is not a roll in CSV.",
                                       max=self._max_line), field="file")
            if number == 1:
                if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                    raise UnreadableRoll(_("The file is saved as UTF-16: save it as CSV "
                                           "(UTF-8) and try again."), field="file")
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if b"\x00" in raw:
                raise UnreadableRoll(_("This is not a CSV text file."), field="file")
            text = self._decode(raw)
            if not text.strip():
                self.blank_lines += 1
                continue
            delimiter = ";" if text.count(";") > text.count(",") else ","
            try:
                names = next(csv.reader((text,), delimiter=delimiter))
            except csv.Error:
                raise UnreadableRoll(_("The first line of the file is not CSV."),
                                     field="file") from None
            columns: dict[str, int] = {}
            for index, name in enumerate(names):
                key = name.strip().lower().replace(" ", "_")
                if key in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) and key not in columns:
                    columns[key] = index
            missing = [name for name in REQUIRED_COLUMNS if name not in columns]
            if missing and not _looks_like_text(raw):
                raise UnreadableRoll(_("This is not a CSV text file."), field="file")
            if missing:
                raise UnreadableRoll(_(
                    "The first line must name the columns document_id, birth_date and "
                    "postcode (district is optional); missing: %(missing)s.",
                    missing=", ".join(missing)), field="file")
            self._width = len(names)
            return columns, delimiter
        raise UnreadableRoll(_("The file is empty."), field="file")

    def __iter__(self) -> Iterator[RollRow | Rejection]:
        columns, delimiter = self._columns, self._delimiter
        document, born, postcode = (columns[name] for name in REQUIRED_COLUMNS)
        district_at = columns.get("district")
        for number, raw in self._lines:
            if raw is None:
                yield Rejection(number, _("longer than %(max)s characters",
                                          max=self._max_line))
                continue
            if b"\x00" in raw:
                yield Rejection(number, _("holds bytes that are not text"))
                continue
            text = self._decode(raw)
            if not text.strip():
                self.blank_lines += 1
                continue
            try:
                fields = next(csv.reader((text,), delimiter=delimiter))
            except (csv.Error, StopIteration):
                yield Rejection(number, _("not a valid CSV row (an unclosed quote?)"))
                continue
            if not any(field.strip() for field in fields):
                self.blank_lines += 1
                continue
            if len(fields) != self._width:
                yield Rejection(number, _("%(found)s fields where the first line names "
                                          "%(expected)s", found=len(fields),
                                          expected=self._width))
                continue
            try:
                identity = parse_identity(fields[document], fields[born], fields[postcode])
            except InvalidInput as error:
                yield Rejection(number, f"{error.field}: {error.message}")
                continue
            district = fields[district_at].strip() if district_at is not None else ""
            if len(district) > DISTRICT_MAX:
                yield Rejection(number, _("district: longer than %(max)s characters",
                                          max=DISTRICT_MAX))
                continue
            yield RollRow(number, identity, district or None)
