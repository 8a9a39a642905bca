""""Did you mean": the known names closest to a mistyped one, for settings keys and flags alike.

An unknown YAML key or `find_tickets` keyword used to be answered with all ~60 setting
names; the one meant is nearly always a typo or a plural away (`fc_rates` for `fc_rate`).
Names are compared with `-` and `_` alike and leading dashes ignored, so `--fc_rate`
finds `--fc-rate` and `fc-rate` finds `fc_rate`. Only the best match is offered, with any
others nearly as close: difflib also finds `conv_rate` for `fc_rates`, but further off.
"""

from __future__ import annotations

import difflib
from typing import Iterable, List

CUTOFF = 0.6
"""difflib's default similarity floor: below it a name is not offered at all."""
MARGIN = 0.1
"""Names offered beside the best one must be at most this much less similar."""


def _plain(name: str) -> str:
    return name.lstrip("-").replace("-", "_").lower()


def close_names(word: str, known: Iterable[str], limit: int = 3) -> List[str]:
    """The known names `word` most likely means, best first, spelled as in `known`; [] if none is close."""
    spelled = {}
    for name in known:
        spelled.setdefault(_plain(name), name)
    target = _plain(word)
    if target in spelled:
        return [spelled[target]]
    matcher = difflib.SequenceMatcher(b=target)
    scored = []
    for plain, name in spelled.items():
        matcher.set_seq1(plain)
        if matcher.real_quick_ratio() >= CUTOFF and matcher.quick_ratio() >= CUTOFF and matcher.ratio() >= CUTOFF:
            scored.append((matcher.ratio(), name))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [name for score, name in scored[:limit] if score >= scored[0][0] - MARGIN]


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """` (did you mean 'fc_rate'?)` for a one-line error, or '' when no known name is close."""
    names = close_names(word, known)
    if not names:
        return ""
    return " (did you mean " + " or ".join(f"'{name}'" for name in names) + "?)"
