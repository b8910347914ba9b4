"""The header line: which columns hold the product, the URLs and the serial number.

Header cells are matched on a normalised form, so that "Product Name", "product_name" and
"PRODUCT-NAME" are one alias; a missing role is refused with the columns found and the
spellings expected.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from actors.manifest.errors import invalid

# Friendly spellings, shown in error messages; matching uses their normalised form.
PRODUCT_NAMES = ("Product Name", "Product", "Name")
URL_NAMES = ("Input URLs", "Input Image URLs", "Image URLs", "URLs", "Image URL", "URL")
SERIAL_NAMES = ("S. No", "Serial Number", "Serial", "ID")

_NAME_NOISE = str.maketrans("", "", " ._-")
_SHOWN_COLUMNS = 20


@dataclass(frozen=True, slots=True)
class Columns:
    """What the header says: the delimiter, the trimmed header cells and where each role is."""

    delimiter: str
    header: tuple[str, ...]
    product: int
    url: int
    serial: int | None


def normalise_name(cell: str) -> str:
    """A header cell as matched: case-folded, without spaces, dots, underscores or dashes."""
    return "".join(cell.casefold().translate(_NAME_NOISE).split())


_PRODUCT_KEYS = tuple(normalise_name(name) for name in PRODUCT_NAMES)
_URL_KEYS = tuple(normalise_name(name) for name in URL_NAMES)
_SERIAL_KEYS = tuple(normalise_name(name) for name in SERIAL_NAMES)
_ROLES = (("product", PRODUCT_NAMES), ("URL", URL_NAMES))


def read_header(
    records: Iterator[tuple[int, list[str]]], delimiter: str
) -> tuple[Columns, Iterator[tuple[int, list[str]]]]:
    """The header's columns, from the first of the non-blank `records` (as `read_records`
    yields them), and an iterator over the records after it."""
    first = next(records, None)
    if first is None:
        raise invalid("the file is empty: it holds only blank lines")
    return _columns(delimiter, first[1]), records


def _columns(delimiter: str, cells: Sequence[str]) -> Columns:
    header = tuple(cell.strip() for cell in cells)
    keys = [normalise_name(cell) for cell in header]
    product, url = _find(keys, _PRODUCT_KEYS), _find(keys, _URL_KEYS)
    if product is None or url is None:
        found = (product, url)
        missing = [role for role, index in zip(_ROLES, found, strict=True) if index is None]
        raise invalid(_missing_columns(header, missing))
    return Columns(delimiter, header, product, url, _find(keys, _SERIAL_KEYS))


def _find(keys: Sequence[str], aliases: Sequence[str]) -> int | None:
    # The most specific alias wins ("Product Name" over "Name"), then the leftmost column.
    for alias in aliases:
        if alias in keys:
            return keys.index(alias)
    return None


def _missing_columns(header: Sequence[str], missing: Sequence[tuple[str, Sequence[str]]]) -> str:
    absent = " and no ".join(role for role, _ in missing)
    expected = " and ".join(f"a {role} column named {_one_of(names)}" for role, names in missing)
    return (
        f"the header has no {absent} column: found columns {_listing(header)}; "
        f"expected {expected} (case, spaces, dots, underscores and dashes do not matter)"
    )


def _one_of(names: Sequence[str]) -> str:
    quoted = [f'"{name}"' for name in names]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _listing(header: Sequence[str]) -> str:
    shown = ", ".join(f'"{cell}"' for cell in header[:_SHOWN_COLUMNS])
    hidden = len(header) - _SHOWN_COLUMNS
    return f"{shown} and {hidden} more" if hidden > 0 else shown
