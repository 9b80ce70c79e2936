"""Pattern and checksum recognisers: e-mail, phone, payment card, IBAN, US SSN, IP, date of birth.

Each recogniser is a pure function ``text -> list[Finding]`` (spans relative
to ``text``). A regular expression proposes candidates; a validator (Luhn,
mod-97, SSN ranges, ``ipaddress``, a real calendar date) or nearby context
words decide whether they count and how confident the finding is.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import date

from compliance.findings import Finding

VERSION = "patterns-1"

Recogniser = Callable[[str], list[Finding]]


def _context(text: str, start: int, end: int, words: re.Pattern[str], window: int = 40) -> bool:
    """Whether one of ``words`` occurs within ``window`` characters before or after the span."""
    return bool(words.search(text[max(0, start - window):start])
                or words.search(text[end:end + window // 2]))


# --------------------------------------------------------------------------- e-mail

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)


def find_emails(text: str) -> list[Finding]:
    """E-mail addresses (local part, ``@``, a dotted domain with a letter TLD)."""
    return [Finding("email", m.start(), m.end(), 0.95, "email_regex")
            for m in _EMAIL.finditer(text)]


# --------------------------------------------------------------------------- payment cards

_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_CARD_CONTEXT = re.compile(r"(?i)\b(card|visa|mastercard|amex|credit|debit|pan)\b")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_brand_known(digits: str) -> bool:
    """Whether the number starts with an issuer prefix of a major scheme."""
    two, four = int(digits[:2]), int(digits[:4])
    return (digits[0] == "4" or 51 <= two <= 55 or 2221 <= four <= 2720 or two in (34, 37)
            or digits.startswith(("6011", "65")) or 3528 <= four <= 3589
            or two in (36, 38, 30) or digits.startswith("62"))


def find_cards(text: str) -> list[Finding]:
    """Payment card numbers: 13–19 digits (spaces or dashes allowed) passing Luhn."""
    found = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if not 13 <= len(digits) <= 19 or not luhn_valid(digits) or len(set(digits)) == 1:
            continue
        confidence = 0.9 if card_brand_known(digits) else 0.6
        if _context(text, m.start(), m.end(), _CARD_CONTEXT):
            confidence = round(min(1.0, confidence + 0.05), 2)
        found.append(Finding("payment_card", m.start(), m.end(), confidence, "card_luhn"))
    return found


# --------------------------------------------------------------------------- IBAN

IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}
"""IBAN length per country (the SWIFT registry); unknown countries need 15–34 characters."""

_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")


def iban_valid(compact: str) -> bool:
    """Length for its country and the ISO 13616 mod-97 check (remainder 1)."""
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    if expected is None and not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


def find_ibans(text: str) -> list[Finding]:
    """IBANs, compact or in groups of four, verified by length and mod-97.

    The pattern may run into a following upper-case word or number, so the
    longest prefix (whole groups, then single characters) that validates wins.
    """
    found = []
    for m in _IBAN.finditer(text):
        raw = m.group()
        for cut in range(len(raw), 14, -1):
            candidate = raw[:cut]
            if candidate.endswith(" "):
                continue
            if cut < len(raw) and raw[cut].isalnum() and raw[cut - 1] != " " and " " not in raw:
                # Compact IBAN glued to more characters: only whole-token matches count.
                continue
            if iban_valid(candidate.replace(" ", "")):
                found.append(Finding("iban", m.start(), m.start() + cut, 0.95, "iban_mod97"))
                break
    return found


# --------------------------------------------------------------------------- US SSN

_SSN = re.compile(r"(?<![\d-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\d-])")
_SSN_CONTEXT = re.compile(r"(?i)\b(ssn|social security|soc\.? sec|taxpayer|tin)\b")
_SSN_EXAMPLES = frozenset({"078051120", "219099999", "123456789"})
"""Numbers published in advertising or used as examples, never issued."""


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """The SSA's rules: no area 000, 666 or 900–999, no group 00, no serial 0000."""
    if area in ("000", "666") or area.startswith("9"):
        return False
    if group == "00" or serial == "0000":
        return False
    return area + group + serial not in _SSN_EXAMPLES


def find_ssns(text: str) -> list[Finding]:
    """US social security numbers; unseparated nine digits only next to an SSN context word."""
    found = []
    for m in _SSN.finditer(text):
        area, separator, group, serial = m.groups()
        if not ssn_valid(area, group, serial):
            continue
        context = _context(text, m.start(), m.end(), _SSN_CONTEXT)
        if not separator and not context:
            continue
        confidence = 0.95 if context else (0.85 if separator == "-" else 0.6)
        found.append(Finding("us_ssn", m.start(), m.end(), confidence, "ssn_ranges"))
    return found


# --------------------------------------------------------------------------- IP addresses

_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|"
                   r"(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])")
_IP_CONTEXT = re.compile(r"(?i)\b(ip|address|host|client|server|login|from)\b")


def find_ips(text: str) -> list[Finding]:
    """IPv4 (dotted quad, each octet ≤ 255, no leading zeros) and IPv6 addresses."""
    found = []
    for m in _IPV4.finditer(text):
        try:
            address = ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        confidence = 0.85 if _context(text, m.start(), m.end(), _IP_CONTEXT) else 0.75
        if address.is_unspecified:
            continue
        found.append(Finding("ip_address", m.start(), m.end(), confidence, "ipv4"))
    for m in _IPV6.finditer(text):
        candidate = m.group()
        if candidate.count(":") < 2 or len(candidate.strip(":")) < 3:
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", candidate):  # a time of day
            continue
        found.append(Finding("ip_address", m.start(), m.end(), 0.85, "ipv6"))
    return found


# --------------------------------------------------------------------------- phone numbers

_PHONE = re.compile(
    r"(?<![\w+/.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{1,5}(?:[ .-]\d{1,8}){1,5}"
    r"(?![\w/-]|\.\d)"
)
_PHONE_CONTEXT = re.compile(
    r"(?i)\b(phone|tel|telephone|mobile|mob|cell|fax|call|contact|ph|whatsapp|number)\b"
)
_DATE_LIKE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_YEAR_RANGE = re.compile(r"(?:19|20)\d\d ?[-/] ?(?:19|20)\d\d")


def find_phones(text: str) -> list[Finding]:
    """Telephone numbers: 7–15 digits in phone-like groups, surer with ``+``, brackets or context.

    Date-shaped and bare digit runs without any phone evidence are skipped;
    overlapping card, IBAN and SSN findings win over a phone reading later.
    """
    found = []
    for m in _PHONE.finditer(text):
        candidate = m.group()
        digits = re.sub(r"\D", "", candidate)
        if not 7 <= len(digits) <= 15 or _DATE_LIKE.fullmatch(candidate):
            continue
        if _YEAR_RANGE.fullmatch(candidate):  # "2016-2021" on a CV
            continue
        international = candidate.startswith("+")
        bracketed = "(" in candidate
        north_american = re.fullmatch(r"\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}", candidate) is not None
        context = _context(text, m.start(), m.end(), _PHONE_CONTEXT)
        if not (international or bracketed or north_american or context):
            continue
        confidence = 0.6
        if international or bracketed or north_american:
            confidence = 0.8
        if context:
            confidence = round(min(0.95, confidence + 0.15), 2)
        found.append(Finding("phone", m.start(), m.end(), confidence, "phone_regex"))
    return found


# --------------------------------------------------------------------------- dates of birth

_MONTHS = {name: number for number, names in enumerate((
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
    ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
    ("oct", "october"), ("nov", "november"), ("dec", "december")), start=1) for name in names}
_MONTH = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE = re.compile(
    r"(?i)(?<!\d)(?:"
    r"(?P<iso_y>\d{4})-(?P<iso_m>\d{1,2})-(?P<iso_d>\d{1,2})"
    r"|(?P<a>\d{1,2})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})"
    r"|(?P<dm_d>\d{1,2})(?:st|nd|rd|th)?\s+(?P<dm_m>" + _MONTH + r")\s*,?\s+(?P<dm_y>\d{4})"
    r"|(?P<md_m>" + _MONTH + r")\s+(?P<md_d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<md_y>\d{4})"
    r")(?!\d)"
)
_DOB_CONTEXT = re.compile(
    r"(?i)(\bborn\b|\bbirth|\bd\.?o\.?b\b|\bgeboren|\bnée?\b|\bbirthday|\bdate of birth|\bage\b)"
)


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return 1900 <= year <= 2100


def _parse_date(m: re.Match[str]) -> bool:
    """Whether the matched text is a real calendar date under some reading."""
    g = m.groupdict()
    if g["iso_y"]:
        return _real_date(int(g["iso_y"]), int(g["iso_m"]), int(g["iso_d"]))
    if g["a"]:
        year = int(g["y"])
        if len(g["y"]) == 2:
            year += 1900 if year > 30 else 2000
        a, b = int(g["a"]), int(g["b"])
        return _real_date(year, a, b) or _real_date(year, b, a)  # US and European order
    if g["dm_d"]:
        month = _MONTHS[g["dm_m"].lower().rstrip(".")]
        return _real_date(int(g["dm_y"]), month, int(g["dm_d"]))
    month = _MONTHS[g["md_m"].lower().rstrip(".")]
    return _real_date(int(g["md_y"]), month, int(g["md_d"]))


def find_dates_of_birth(text: str) -> list[Finding]:
    """Calendar dates with a birth context word (born, DOB, date of birth…) just before them.

    A date alone is not personal data; next to "born" it is.
    """
    found = []
    for m in _DATE.finditer(text):
        if not _parse_date(m):
            continue
        # Only the same line and clause count: "DOB: …\nStart date: …" is one birthday.
        before = re.split(r"[\n;]|\.\s", text[max(0, m.start() - 40):m.start()])[-1]
        if not _DOB_CONTEXT.search(before):
            continue
        found.append(Finding("date_of_birth", m.start(), m.end(), 0.9, "dob_context"))
    return found


PATTERN_RECOGNISERS: tuple[Recogniser, ...] = (
    find_emails, find_cards, find_ibans, find_ssns, find_ips, find_phones, find_dates_of_birth,
)
"""Every pattern recogniser, in no particular order (overlaps are resolved afterwards)."""
