"""Text folding shared by the app and our Rasa components (stdlib only: it runs in both venvs)."""

from __future__ import annotations

import re
import unicodedata


def fold(text: str) -> str:
    """Lower-case, accents removed, apostrophes and dashes as spaces, spaces collapsed."""
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    t = re.sub(r"[’'`\-_.]", " ", t)
    return re.sub(r"\s+", " ", t).strip()
