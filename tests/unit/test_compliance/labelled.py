"""The labelled sample: generated documents with planted personal data, and how to score them.

Documents are filled from sentence templates with values drawn (seeded) from
the lists below: names, organisations and places that are partly *outside*
the recogniser's dictionaries, checksum-valid card numbers and IBANs, valid
SSNs, phones in several national formats — and distractors that must not be
found (Luhn-failing cards, 666- SSNs, order numbers, dates without a birth
context, version strings, times). Each planted value is a gold label.

``python -m tests.unit.test_compliance.labelled`` prints the per-type table
that services/compliance/README.md reports.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, field

from fpdf import FPDF

PERSONS = [
    "John Smith", "Maria Garcia", "Emily Watson", "Thomas Müller", "Sophie Martin",
    "Luca Rossi", "Anna Kowalski", "James O'Brien", "Sarah Johnson", "Pieter de Vries",
    "Oluwaseun Adeyemi", "Priya Raghunathan", "Siobhan Kelly", "Carlos Mendoza", "Ingrid Larsen",
    "David Cohen", "Fatima Haddad", "Michael Brown", "Laura Fischer", "Kenji Watanabe",
    "Rachel Green", "Hugo Lefebvre", "Elena Petrova", "Daniel Wright", "Aisha Bello",
]
TITLED = ["Mr", "Mrs", "Ms", "Dr", "Prof"]
ORGANISATIONS = [
    "Northwind Traders Ltd", "Globex Corporation", "Initech LLC", "Contoso GmbH",
    "Umbrella Holdings", "Bank of Ireland", "Stark Industries", "Acme Insurance Group",
    "Fabrikam Inc", "Blue Harbor Capital", "Vandelay Industries", "Hooli Technologies",
    "Deutsche Bank AG", "Tyrell Corporation", "Wayne Enterprises", "Massive Dynamic",
]
CITIES = ["London", "Madrid", "Berlin", "Chicago", "Toronto", "Lyon", "Milan", "Dublin",
          "Rotterdam", "Krakow", "Lagos", "Bangalore", "Ouagadougou", "Springfield", "Austin",
          "Seattle", "Porto", "Gothenburg"]
COUNTRIES = ["Spain", "Germany", "Ireland", "Canada", "Portugal", "Nigeria", "India",
             "France", "Poland", "Sweden", "Italy", "Netherlands"]
EMAIL_DOMAINS = ["example.com", "mail.example.org", "corp.example.net", "uni.example.ac.uk"]
IBAN_FORMATS = {"DE": 18, "GB": None, "FR": 23, "ES": 20, "NL": None, "IT": None, "IE": None}
"""Country → number of digits in the BBAN (``None``: a bank code of letters first)."""

ENTITY_TYPES = ("person", "organisation", "location", "email", "phone", "payment_card",
                "iban", "us_ssn", "ip_address", "date_of_birth")
PATTERN_TYPES = ("email", "phone", "payment_card", "iban", "us_ssn", "ip_address",
                 "date_of_birth")
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]


# --------------------------------------------------------------------------- value makers


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    """A random card number with ``prefix`` whose last digit makes the Luhn check pass."""
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        candidate = body + check
        total = 0
        for position, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if position % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("37", 15), ("6011", 16), ("2221", 16)])
    number = luhn_complete(prefix, length, rng)
    style = rng.choice(["spaced", "dashed", "compact"])
    if style == "compact":
        return number
    groups = ([number[:4], number[4:10], number[10:]] if length == 15
              else [number[i:i + 4] for i in range(0, length, 4)])
    return (" " if style == "spaced" else "-").join(groups)


def bad_card(rng: random.Random) -> str:
    number = luhn_complete("4", 16, rng)
    wrong = number[:-1] + str((int(number[-1]) + 3) % 10)
    return " ".join(wrong[i:i + 4] for i in range(0, 16, 4))


def iban(rng: random.Random) -> str:
    country = rng.choice(sorted(IBAN_FORMATS))
    digits = IBAN_FORMATS[country]
    if digits is None:
        lengths = {"GB": (4, 14), "NL": (4, 10), "IT": (0, 0), "IE": (4, 14)}
        letters, numbers = lengths[country]
        if country == "IT":
            bban = rng.choice(string.ascii_uppercase) + "".join(
                rng.choice(string.digits) for _ in range(22))
        else:
            bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(letters)) + "".join(
                rng.choice(string.digits) for _ in range(numbers))
    else:
        bban = "".join(rng.choice(string.digits) for _ in range(digits))
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    check = 98 - int(numeric) % 97
    compact = f"{country}{check:02d}{bban}"
    if rng.random() < 0.5:
        return compact
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def phone(rng: random.Random) -> str:
    n = lambda k: "".join(rng.choice(string.digits) for _ in range(k))  # noqa: E731
    return rng.choice([
        f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{n(4)}",
        f"{rng.randint(201, 989)}-{rng.randint(200, 999)}-{n(4)}",
        f"+1 {rng.randint(201, 989)} {rng.randint(200, 999)} {n(4)}",
        f"+44 20 {n(4)} {n(4)}",
        f"+49 30 {n(8)}",
        f"+33 1 {n(2)} {n(2)} {n(2)} {n(2)}",
        f"{rng.randint(201, 989)}.{rng.randint(200, 999)}.{n(4)}",
    ])


def ip(rng: random.Random) -> str:
    if rng.random() < 0.3:
        groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
        if rng.random() < 0.5:
            return "2001:db8::" + ":".join(groups[:3])
        return ":".join(groups)
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def plain_date(rng: random.Random) -> str:
    year, month, day = rng.randint(1950, 2024), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([f"{year}-{month:02d}-{day:02d}", f"{day:02d}/{month:02d}/{year}",
                       f"{day} {MONTHS[month - 1]} {year}", f"{MONTHS[month - 1]} {day}, {year}"])


def email(person: str, rng: random.Random) -> str:
    first, *_, last = re.sub(r"[^A-Za-z ]", "", person).lower().split()
    local = rng.choice([f"{first}.{last}", f"{first[0]}{last}",
                        f"{first}_{last}{rng.randint(1, 99)}"])
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}"


# --------------------------------------------------------------------------- documents


@dataclass
class LabelledDocument:
    """Page texts and the gold labels ``(type, value, page)`` planted in them."""

    pages: list[str] = field(default_factory=list)
    gold: list[tuple[str, str, int]] = field(default_factory=list)


def _sentence(rng: random.Random) -> tuple[str, list[tuple[str, str]]]:
    """One sentence and its labels, from a randomly chosen template."""
    person = rng.choice(PERSONS)
    org = rng.choice(ORGANISATIONS)
    city, city2 = rng.sample(CITIES, 2)
    country = rng.choice(COUNTRIES)
    choice = rng.randrange(17)
    if choice == 0:
        mail, tel = email(person, rng), phone(rng)
        return (f"Customer {person} (email {mail}) called from {tel} about a dispute.",
                [("person", person), ("email", mail), ("phone", tel)])
    if choice == 1:
        number = card(rng)
        return (f"Please charge card {number} for invoice INV-{rng.randint(10000, 99999)} "
                f"dated {plain_date(rng)}.", [("payment_card", number)])
    if choice == 2:
        account = iban(rng)
        return (f"Refund to IBAN {account}, account holder {person}.",
                [("iban", account), ("person", person)])
    if choice == 3:
        title = rng.choice(TITLED)
        return (f"{title} {person} reviewed the file on {plain_date(rng)}.", [("person", person)])
    if choice == 4:
        number, born = ssn(rng), plain_date(rng)
        return (f"Applicant SSN: {number}. Date of birth: {born}.",
                [("us_ssn", number), ("date_of_birth", born)])
    if choice == 5:
        address = ip(rng)
        return (f"Login from IP {address} at 10:42; build version 3.2.1 deployed.",
                [("ip_address", address)])
    if choice == 6:
        return (f"{person} moved from {city} to {city2} last year.",
                [("person", person), ("location", city), ("location", city2)])
    if choice == 7:
        return (f"The account is held at {org} in {country}.",
                [("organisation", org), ("location", country)])
    if choice == 8:
        tel = phone(rng)
        return f"Contact {org} support on {tel} during office hours.", [
            ("organisation", org), ("phone", tel)]
    if choice == 9:
        born = plain_date(rng)
        return f"She was born on {born} in {city}.", [("date_of_birth", born), ("location", city)]
    if choice == 10:
        return (f"Order ORD-{rng.randint(2000, 2030)}-{rng.randint(100, 999)} totals 1,249.99 EUR; "
                f"reference {rng.randint(10**7, 10**8 - 1)} was paid on {plain_date(rng)}.", [])
    if choice == 11:
        address = ip(rng)
        return f"Server {address} rejected the request at 23:15:07.", [("ip_address", address)]
    if choice == 12:
        return (f"The test card {bad_card(rng)} and SSN 666-{rng.randint(10, 99)}-1234 were "
                "declined as invalid.", [])
    if choice == 13:
        mail = email(person, rng)
        return f"Forward the statement to {mail} and copy {person}.", [
            ("email", mail), ("person", person)]
    if choice == 14:
        born = plain_date(rng)
        return (f"Patient {person}, DOB {born}, was admitted at {org}.",
                [("person", person), ("date_of_birth", born), ("organisation", org)])
    if choice == 15:
        return (f"Quarterly revenue grew by 12.5% in Q{rng.randint(1, 4)}; see table "
                f"{rng.randint(1, 9)}.{rng.randint(1, 9)} for details.", [])
    return (f"Our office at {rng.randint(1, 999)} Harbour Road moved to {city}, {country}.",
            [("location", "Harbour Road"), ("location", city), ("location", country)])


def build_sample(seed: int = 20261125, documents: int = 40,
                 sentences: tuple[int, int] = (4, 12), pages: tuple[int, int] = (1, 3),
                 ) -> list[LabelledDocument]:
    """``documents`` labelled documents of 1–3 pages with 4–12 sentences a page (seeded)."""
    rng = random.Random(seed)
    sample = []
    for _ in range(documents):
        doc = LabelledDocument()
        for page in range(1, rng.randint(*pages) + 1):
            lines = []
            for _ in range(rng.randint(*sentences)):
                text, labels = _sentence(rng)
                lines.append(text)
                doc.gold.extend((kind, value, page) for kind, value in labels)
            doc.pages.append("\n".join(lines))
        sample.append(doc)
    return sample


PROSE = [
    # Hand-written, not templated: realistic letters and notes with traps (words that are
    # also names or places, dates that are not birthdays, numbers that are not phones).
    "Dear [[person:Margaret Chase]],\n"
    "Thank you for your letter of 3 May 2024. We have reviewed the claim you filed with "
    "[[organisation:Harbourside Mutual Insurance]] regarding the flood at your home in "
    "[[location:Reading]]. Will you please send the missing receipts to "
    "[[email:claims@harbourside.example.com]] or call us on [[phone:0118 496 0321]]?\n"
    "Your policy number is HM-2291-0048 and the excess is 250 GBP.\n"
    "Kind regards,\n[[person:Daniel Osei]]\nClaims Handler",
    "CURRICULUM VITAE\n[[person:Ana Lucia Ferreira]], born [[date_of_birth:22.07.1991]] in "
    "[[location:Porto]], [[location:Portugal]]\n"
    "Address: [[location:14 Rua das Flores]], 4050 Porto\nMobile: [[phone:+351 912 345 678]]\n"
    "2016-2021 Data analyst at [[organisation:Banco Atlantico SA]], [[location:Lisbon]]\n"
    "2021-today Senior analyst, [[organisation:Northwind Traders Ltd]]\n"
    "Languages: Portuguese, English, Spanish. Version 2.0 of this CV, updated 2024-03-01.",
    "Minutes of the risk committee, 14 March 2024\n"
    "Present: [[person:Sarah Kim]] (chair), [[person:Dr Peter Novak]], [[person:Jordan Blake]]\n"
    "1. The committee reviewed 1,204 alerts; 37 were escalated to the fraud team in "
    "[[location:Georgia]].\n"
    "2. [[person:Jordan Blake]] reported that card [[payment_card:5500 0055 5555 5559]] "
    "was used from [[ip_address:203.0.113.77]] and [[ip_address:2001:db8:4::1f]].\n"
    "3. Next meeting: 11 April 2024 at 10:30 in room 4.12.",
    "Wire transfer request\nBeneficiary: [[person:Hans-Peter Zimmermann]]\n"
    "IBAN: [[iban:DE75 5121 0800 1245 1261 99]]\nBank: [[organisation:Commerzbank AG]], "
    "[[location:Frankfurt]]\nAmount: 12,500.00 EUR, reference INV 2024 0042 117\n"
    "Ordered by [[person:Claire Dubois]] ([[email:c.dubois@example.fr]], "
    "tel. [[phone:+33 4 72 10 30 30]]).",
    "Employee record\nName: [[person:Kevin Murphy]]\nSSN: [[us_ssn:512-44-9031]]\n"
    "DOB: [[date_of_birth:April 9, 1985]]\nStart date: June 1, 2019\n"
    "Office: [[location:350 Fifth Avenue]], [[location:New York]]\n"
    "Emergency contact: [[person:Linda Murphy]], [[phone:(212) 555-0147]]\n"
    "Laptop asset tag 4420-1187, badge 000-55-1234.",
]
"""Hand-labelled prose: ``[[type:value]]`` marks each gold entity."""

_MARK = re.compile(r"\[\[(\w+):([^\]]+)\]\]")


def prose_sample() -> list[LabelledDocument]:
    """The hand-written documents, one page each, their markup turned into gold labels."""
    sample = []
    for text in PROSE:
        gold = [(kind, value, 1) for kind, value in _MARK.findall(text)]
        sample.append(LabelledDocument(pages=[_MARK.sub(r"\2", text)], gold=gold))
    return sample


def make_pdf(pages: Sequence[str], *, blank_pages: Sequence[int] = ()) -> bytes:
    """A PDF with one text page per entry (Helvetica, latin-1) and optional blank pages."""
    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=10)
    for number, text in enumerate(pages, start=1):
        pdf.add_page()
        if number in blank_pages:
            pdf.rect(20, 20, 50, 30)  # a drawing and no text: what a scan looks like to pypdf
            continue
        pdf.set_font("Helvetica", size=10)
        for line in text.split("\n"):
            pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


# --------------------------------------------------------------------------- scoring


@dataclass
class Score:
    """True positives, false positives and false negatives of one type."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def gold_spans(page_text: str, value: str) -> list[tuple[int, int]]:
    """Where ``value`` occurs in the extracted text, whitespace-insensitively."""
    pattern = r"\s+".join(re.escape(part) for part in value.split())
    return [(m.start(), m.end()) for m in re.finditer(pattern, page_text)]


def score(pages: Sequence[str], gold: Sequence[tuple[str, str, int]],
          predicted: Sequence[tuple[str, int, int, int]], scores: dict[str, Score]) -> None:
    """Add one document's counts to ``scores``.

    ``predicted`` holds ``(type, page, start, end)``. A prediction is a true
    positive when it overlaps an unmatched gold span of its type on its page;
    each gold span is matched at most once (partial spans count, as in most
    NER evaluations that report "overlap" matching).
    """
    spans: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for kind, value, page in gold:
        for span in gold_spans(pages[page - 1], value):
            key = (kind, page)
            if span not in spans.setdefault(key, []):
                spans[key].append(span)
    expected = {key: len(found) for key, found in spans.items()}
    matched: set[tuple[str, int, int, int]] = set()
    for kind, page, start, end in predicted:
        hit = next((s for s in spans.get((kind, page), [])
                    if (kind, page, *s) not in matched and s[0] < end and start < s[1]), None)
        result = scores.setdefault(kind, Score())
        if hit is None:
            result.fp += 1
        else:
            matched.add((kind, page, *hit))
            result.tp += 1
    for (kind, page), count in expected.items():
        found = sum(1 for m in matched if m[0] == kind and m[1] == page)
        scores.setdefault(kind, Score()).fn += count - found


def table(scores: dict[str, Score]) -> str:
    """The Markdown table of precision and recall per type."""
    lines = ["| type | gold | found | precision | recall |", "|---|---:|---:|---:|---:|"]
    for kind in ENTITY_TYPES:
        s = scores.get(kind, Score())
        lines.append(f"| {kind} | {s.tp + s.fn} | {s.tp + s.fp} | {s.precision:.3f} | "
                     f"{s.recall:.3f} |")
    return "\n".join(lines)


def evaluate_sample(sample: Sequence[LabelledDocument]) -> dict[str, Score]:
    """Run the analysis pipeline (PDF → text → findings) over the sample and score it."""
    from compliance.detect import default_recognisers
    from compliance.processor import Limits, analyse
    from compliance.recognisers.entities import DictionaryRecogniser

    recognisers = default_recognisers(DictionaryRecogniser())
    limits = Limits(max_bytes=20 * 1024 * 1024, max_pages=100, chunk_chars=4000,
                    overlap_chars=200, min_confidence=0.5)
    scores: dict[str, Score] = {}
    for doc in sample:
        extracted, findings = analyse(make_pdf(doc.pages), limits, recognisers)
        predicted = [(f.type, f.page, f.start, f.end) for f in findings]
        score(extracted.pages, doc.gold, predicted, scores)
    return scores


if __name__ == "__main__":
    sample = build_sample()
    print(f"{len(sample)} documents, {sum(len(d.pages) for d in sample)} pages, "
          f"{sum(len(d.gold) for d in sample)} planted values")
    print(table(evaluate_sample(sample)))
    print(f"\nhand-written prose: {len(PROSE)} documents, "
          f"{sum(len(d.gold) for d in prose_sample())} labelled values")
    print(table(evaluate_sample(prose_sample())))
