"""The Slack app's own wording (`texts.yml`), in the person's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import yaml

TEXTS_FILE = Path(__file__).with_name("texts.yml")
LANGUAGES = ("en", "es")


class Texts:
    """Loaded once at start-up; a missing text or language fails then, not in a conversation."""

    def __init__(self, entries: Mapping[str, Any]):
        self._entries = entries
        for name, variations in self._variations():
            missing = [lang for lang in LANGUAGES if not variations.get(lang)]
            if missing:
                raise ValueError(f"text {name} has no {', '.join(missing)} variation")

    @classmethod
    def load(cls, path: Path = TEXTS_FILE) -> Texts:
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    def _variations(self) -> Any:
        for name, value in self._entries.items():
            if name == "examples":
                for capability, variations in value.items():
                    yield f"examples.{capability}", variations
            else:
                yield name, value

    def say(self, key: str, language: Optional[str], /, **values: object) -> str:
        variations: Dict[str, str] = self._entries[key]
        return variations[language if language in LANGUAGES else "en"].format(**values)

    def has(self, key: str) -> bool:
        """Whether there is a text named `key` (for names made from a value, like a reason)."""
        return key in self._entries and key != "examples"

    def example(self, capability: str, language: Optional[str]) -> Optional[str]:
        """An example question for `capability`, or None when the app has none to show."""
        variations = self._entries.get("examples", {}).get(capability)
        if variations is None:
            return None
        return str(variations[language if language in LANGUAGES else "en"])

    @property
    def example_capabilities(self) -> tuple:
        """The capabilities with an example, in the order the App Home lists them."""
        return tuple(self._entries.get("examples", {}))
