"""Roll files for the tests: invented people, written as a city's export would be."""

from __future__ import annotations

import io
from typing import Any

from participation.roll import services

HEADER = "document_id,birth_date,postcode,district"


def roll_csv(*rows: tuple[str, ...], header: str = HEADER, end: str = "\n",
             encoding: str = "utf-8") -> io.BytesIO:
    lines = [header, *(",".join(row) for row in rows)]
    return io.BytesIO((end.join(lines) + end).encode(encoding))


def person(n: int, district: str = "North") -> tuple[str, str, str, str]:
    return (f"X{n:07d}A", f"19{50 + n % 50:02d}-0{1 + n % 9}-1{n % 10}", f"280{n % 100:02d}",
            district)


def import_people(session: Any, app: Any, *rows: tuple[str, ...], **options: Any
                  ) -> services.ImportReport:
    return services.import_roll(session, None, roll_csv(*rows), key=services.roll_key(app.config),
                                **options)
