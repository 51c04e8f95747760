"""Places people name for a support region: every country, some areas, major business cities.

"Singapore support number?" or "teléfono de soporte para Corea" asks for a support
region (Americas, EMEA, APJ) by a place. The places and the region serving each live in
one data file, `bot/nlu/places.yml`, read by two users:

- `PlaceRegionExtractor`, an NLU component, turns a place named in a question about
  support contacts into the `region` entity with the region as its value;
- `ActionSupportContact` maps the region value (or the message) it gets onto a region
  with `places().region_of(...)`.

Names match in any case (except the few the file lists as case-sensitive, "US" but not
"us"), without accents and punctuation ("EE. UU." is "EEUU" is "ee uu"... as written in
the file), whole words only, the longest name first ("Papua New Guinea", not "Guinea").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import yaml

PLACES_FILE = Path(__file__).with_name("places.yml")
REGIONS = ("Americas", "EMEA", "APJ")
_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """Lower case without accents: 'México' -> 'mexico', 'Corea' -> 'corea'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> List[Tuple[str, int, int]]:
    """The words of `text` with their offsets; punctuation separates words."""
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


@dataclass(frozen=True)
class Place:
    """A place found in a text: where it is, as written, and the region serving it."""

    start: int
    end: int
    text: str
    region: str


class Places:
    """Names (as word tuples) -> region; built from the data file by `load`."""

    def __init__(
        self, folded: Dict[Tuple[str, ...], str], exact: Dict[Tuple[str, ...], str]
    ) -> None:
        self._folded = folded
        self._exact = exact
        self._longest = max((len(k) for k in [*folded, *exact]), default=0)

    @classmethod
    def from_data(cls, data: Dict[str, Any]) -> Places:
        """Raises ValueError when a name is given to two regions or a region is unknown."""
        case_sensitive = set(data.get("case_sensitive") or [])
        folded: Dict[Tuple[str, ...], str] = {}
        exact: Dict[Tuple[str, ...], str] = {}
        for section in ("countries", "areas", "cities"):
            for region, entries in (data.get(section) or {}).items():
                if region not in REGIONS:
                    raise ValueError(f"{section}: unknown region {region!r}")
                names: Iterable[str] = (
                    [n for names in entries.values() for n in names]
                    if isinstance(entries, dict)
                    else entries
                )
                for name in names:
                    if name in case_sensitive:
                        table, key = exact, tuple(w for w, _, _ in words(name))
                    else:
                        table, key = folded, tuple(fold(w) for w, _, _ in words(name))
                    if not key:
                        continue
                    if table.get(key, region) != region:
                        raise ValueError(f"{name!r} is in both {table[key]} and {region}")
                    table[key] = region
        return cls(folded, exact)

    def find(self, text: str) -> List[Place]:
        """Every place named in `text`, left to right, the longest name at each point."""
        tokens = words(text)
        found: List[Place] = []
        i = 0
        while i < len(tokens):
            for n in range(min(self._longest, len(tokens) - i), 0, -1):
                span = tokens[i : i + n]
                region = self._exact.get(tuple(w for w, _, _ in span)) or self._folded.get(
                    tuple(fold(w) for w, _, _ in span)
                )
                if region:
                    start, end = span[0][1], span[-1][2]
                    found.append(Place(start, end, text[start:end], region))
                    i += n
                    break
            else:
                i += 1
        return found

    def region_of(self, value: Optional[str]) -> Optional[str]:
        """The region a value names: a region ('emea'), or a place ('Corea' -> 'APJ')."""
        if not value:
            return None
        for region in REGIONS:
            if fold(value.strip()) == fold(region):
                return region
        found = self.find(value)
        return found[0].region if found else None


@functools.lru_cache(maxsize=1)
def places() -> Places:
    """The places of the data file, read once."""
    return Places.from_data(yaml.safe_load(PLACES_FILE.read_text(encoding="utf-8")))
