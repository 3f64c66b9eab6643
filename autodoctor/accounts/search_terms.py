"""The search form of a mechanic's brands, specialties and languages, and the one writer
of ``MechanicSearchTerm`` rows.

A term is lower-case with single spaces, and a word ending in a plain "s" loses it
("Brakes" and "brake" find each other). A tag of several words is searchable as a whole
and word by word ("check engine light" is found by "engine"). The customer's keyword goes
through the same ``search_term``, so a match is one equality on an indexed column.
"""

from collections.abc import Iterable

from .models import MechanicProfile, MechanicSearchTerm, SearchTermKind

TERM_MAX = 50  # MechanicSearchTerm.term; profile tags are at most 50 characters too
_CHUNK = 500  # ids per DELETE … IN (…): well under SQLite's variable limit


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def search_term(text: str) -> str:
    """The search form of a tag or of what a customer typed ("" for nothing)."""
    words = str(text).lower().split()
    return " ".join(_singular(word) for word in words)[:TERM_MAX]


def terms_of(
    brands: Iterable[str], specialties: Iterable[str], languages: Iterable[str]
) -> set[tuple[str, str]]:
    """(kind, term) pairs a profile with these lists is found by."""
    out: set[tuple[str, str]] = set()
    for kind, tags in (
        (SearchTermKind.BRAND, brands),
        (SearchTermKind.SPECIALTY, specialties),
        (SearchTermKind.LANGUAGE, languages),
    ):
        for tag in tags or ():
            term = search_term(tag)
            if not term:
                continue
            out.add((kind.value, term))
            if kind == SearchTermKind.SPECIALTY:
                out.update((kind.value, word) for word in term.split() if len(word) > 1)
    return out


def mechanic_search_terms_sync(*, profiles: Iterable[MechanicProfile]) -> None:
    """Rewrite the search rows of ``profiles`` from their (saved) JSON lists. Runs in the
    caller's transaction: every write of brands, specialty_keywords or languages calls it
    in the same transaction, so search never disagrees with a committed profile."""
    profiles = [p for p in profiles if p.pk is not None]
    ids = [p.pk for p in profiles]
    for start in range(0, len(ids), _CHUNK):
        MechanicSearchTerm.objects.filter(mechanic_id__in=ids[start : start + _CHUNK]).delete()
    MechanicSearchTerm.objects.bulk_create(
        [
            MechanicSearchTerm(mechanic_id=p.pk, kind=kind, term=term)
            for p in profiles
            for kind, term in sorted(terms_of(p.brands, p.specialty_keywords, p.languages))
        ],
        batch_size=1000,
    )
