"""The pattern and checksum recognisers, one behaviour at a time."""

from __future__ import annotations

import pytest

from compliance.recognisers.patterns import (
    find_cards,
    find_dates_of_birth,
    find_emails,
    find_ibans,
    find_ips,
    find_phones,
    find_ssns,
    iban_valid,
    luhn_valid,
    ssn_valid,
)


def _values(found: list, text: str) -> list[str]:
    return [text[f.start:f.end] for f in found]


@pytest.mark.parametrize("number", ["4111111111111111", "5500005555555559", "378282246310005",
                                    "6011111111111117"])
def test_luhn_accepts_test_cards(number: str) -> None:
    assert luhn_valid(number)


def test_luhn_rejects_a_changed_digit() -> None:
    assert not luhn_valid("4111111111111112")


def test_cards_in_groups_are_found_and_luhn_failures_are_not() -> None:
    text = "Card 4111 1111 1111 1111, also 5500-0055-5555-5559; not 4111 1111 1111 1112."
    assert _values(find_cards(text), text) == ["4111 1111 1111 1111", "5500-0055-5555-5559"]


def test_iban_mod97_and_country_length() -> None:
    assert iban_valid("DE89370400440532013000")
    assert iban_valid("GB82WEST12345698765432")
    assert not iban_valid("DE89370400440532013001")  # checksum
    assert not iban_valid("DE8937040044053201300")  # length for DE


def test_ibans_spaced_or_compact_stop_at_the_valid_length() -> None:
    text = "Pay DE89 3704 0044 0532 0130 00 BANK or GB82WEST12345698765432 today."
    assert _values(find_ibans(text), text) == ["DE89 3704 0044 0532 0130 00",
                                               "GB82WEST12345698765432"]


@pytest.mark.parametrize(("area", "group", "serial", "valid"), [
    ("512", "44", "9031", True), ("000", "12", "3456", False), ("666", "12", "3456", False),
    ("912", "12", "3456", False), ("512", "00", "3456", False), ("512", "44", "0000", False),
    ("078", "05", "1120", False),
])
def test_ssn_ranges(area: str, group: str, serial: str, valid: bool) -> None:
    assert ssn_valid(area, group, serial) is valid


def test_ssns_need_dashes_or_context() -> None:
    bare = "Order number 512449031 was shipped on time."
    assert find_ssns(bare) == []
    text = "SSN 512-44-9031; SSN: 512449032; bad 666-12-3456; mixed 512-44 9031"
    assert _values(find_ssns(text), text) == ["512-44-9031", "512449032"]


def test_emails() -> None:
    text = "Write to jane.doe+tag@mail.example.co.uk or x@y (not an address)."
    assert _values(find_emails(text), text) == ["jane.doe+tag@mail.example.co.uk"]


def test_ip_addresses_v4_and_v6_but_not_versions_or_times() -> None:
    text = ("from 192.168.1.20 and 2001:db8::8a2e:370:7334 and ::1; version 1.2.3.4.5, "
            "300.1.1.1, time 10:30:15, 0.0.0.0")
    assert _values(find_ips(text), text) == ["192.168.1.20", "2001:db8::8a2e:370:7334"]


@pytest.mark.parametrize("number", ["(555) 123-4567", "555-123-4567", "+44 20 7946 0958",
                                    "+49 30 12345678", "+33 1 99 38 72 53", "555.123.4567"])
def test_phone_formats(number: str) -> None:
    text = f"Reach me at {number} please."
    assert _values(find_phones(text), text) == [number]


@pytest.mark.parametrize("text", ["Invoice 2023 1234 total", "dated 2024-01-15 ok",
                                  "worked 2016-2021 there", "amount 1 234 567 EUR"])
def test_numbers_without_phone_evidence_are_not_phones(text: str) -> None:
    assert find_phones(text) == []


def test_bare_digit_groups_count_with_a_phone_context_word() -> None:
    text = "Tel: 0118 496 0321"
    assert _values(find_phones(text), text) == ["0118 496 0321"]


def test_dates_of_birth_need_a_birth_context_on_the_same_line() -> None:
    text = ("Born on 14 March 1985. DOB: 1990-02-28\nStart date: June 1, 2019. "
            "Invoice dated 12/05/2020. Date of birth: 31/02/1980 (no such day)")
    assert _values(find_dates_of_birth(text), text) == ["14 March 1985", "1990-02-28"]
