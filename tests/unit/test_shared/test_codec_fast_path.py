"""``decode``'s fast path (pydantic-core parses the bytes) decides exactly like the reference.

The reference is :func:`decode_checked` behind the size checks: UTF-8, then
``json.loads``, then ``model_validate``. For every input, valid or not, both
must return equal models or raise the same error (same reason, same detail).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from fraudstream_shared.events import (
    MAX_VALUE_BYTES,
    ProcessedTransaction,
    Transaction,
    TransactionLabel,
    decode,
    encode,
)
from fraudstream_shared.events.codec import (
    HUGE_INTEGER_DIGITS,
    decode_checked,
    may_hold_huge_integer,
)
from fraudstream_shared.exceptions import PoisonMessageError
from tests.support.factories import original_sample_transaction

MODELS: tuple[type[BaseModel], ...] = (Transaction, ProcessedTransaction, TransactionLabel)


def reference(model: type[BaseModel], value: bytes) -> BaseModel:
    """Today's decoding without any fast path: the size checks, then ``decode_checked``."""
    if len(value) == 0:
        raise PoisonMessageError("empty_value", "the message has no value")
    if len(value) > MAX_VALUE_BYTES:
        raise PoisonMessageError(
            "oversized", f"value is {len(value)} bytes, the limit is {MAX_VALUE_BYTES}"
        )
    return decode_checked(model, value)


def outcome(model: type[BaseModel], value: bytes, decoder: Any) -> tuple[str, ...]:
    """What decoding gives, comparable across paths: a model's repr or the error raised.

    ``repr`` rather than ``==``: NaN is not equal to itself, and ``-0.0`` must stay
    ``-0.0``; it also shows the exact type of every value.
    """
    try:
        result = decoder(model, value)
    except PoisonMessageError as exc:
        return ("poison", exc.reason, exc.detail)
    except Exception as exc:  # the reference crashes on some input; so must the fast path
        return ("raised", type(exc).__name__, str(exc))
    return ("ok", type(result).__name__, repr(result))


def assert_same(model: type[BaseModel], value: bytes) -> None:
    assert outcome(model, value, decode) == outcome(model, value, reference)


def decision_payload() -> dict[str, Any]:
    """A ``processed_transactions`` value in the original sample's lenient format."""
    payload = original_sample_transaction(event_id="6f1c1b9e-3f57-4a43-9d5c-0b8f3c2a9e11",
                                          event_time="2026-11-25T09:59:58.123456")
    payload["fd"] = {
        "outcome": "review",
        "model_scores": {"fraudstream": 640},
        "rule_results": {"high_score": ["review"], "night": []},
        "model_version": "m-1", "detector_version": "d-1",
        "reasons": ["amount far above the customer's usual"],
        "contributions": [{"feature": "amount_zscore", "value": 4.2, "contribution": 1.3}],
        "features": {"amount_zscore": 4.2, "velocity": None},
        "proc_time": 12, "ttdf": 30, "scorer_time": 3.5, "frauddetector_time": 18,
        "scored_at": "2026-11-25T10:00:00.123456+00:00",
    }
    return payload


def label_payload() -> dict[str, Any]:
    return {"event_id": "e-1", "entity_id": "123-45-6789", "label": "fraud",
            "labelled_at": "2026-11-25T10:00:00", "scenario": "card_testing"}


def payload_for(model: type[BaseModel]) -> dict[str, Any]:
    if model is TransactionLabel:
        return label_payload()
    payload = decision_payload()
    if model is Transaction:
        del payload["fd"]
    return payload


def container(payload: Any, path: tuple[Any, ...]) -> Any:
    """The dict or list holding ``path``'s last key, or ``None`` if an earlier change removed it."""
    target = payload
    for key in path[:-1]:
        try:
            target = target[key]
        except (KeyError, IndexError, TypeError):
            return None
    key = path[-1]
    if isinstance(target, dict) or (isinstance(target, list) and isinstance(key, int)
                                    and key < len(target)):
        return target
    return None


def with_raw(payload: dict[str, Any], path: tuple[Any, ...], literal: str) -> bytes:
    """``payload`` as JSON with the value at ``path`` replaced by a raw JSON literal."""
    marker = "__raw_literal__"
    target = container(payload, path)
    if target is None:
        return json.dumps(payload).encode("utf-8", "surrogatepass")
    target[path[-1]] = marker
    text = json.dumps(payload).replace(json.dumps(marker), literal)
    return text.encode("utf-8", "surrogatepass")


# Values of every JSON type, including the ones the lenient contract coerces
# (numeric strings, integer codes, naive timestamps, upper-case currencies).
json_scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", " ", "usd", " USD ", "gbp", "12", "1.5", " 39.78 ", "-89.65", "1e3",
                     "inf", "nan", "NaN", "-Infinity", "1_000", "0x10", "approve", "BLOCK",
                     "review", "fraud", "legit", "2026-11-25T10:00:00", "2026-11-25 10:00:00Z",
                     "2026-11-25T10:00:00.123+02:00", "2026-11-25", "yesterday", "\u00e9\u2028",
                     "\ud83d\ude00", "x" * 300, "411111", "(217) 555-0199"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)

# Raw number-ish tokens, valid JSON or not: the parsers must agree on each.
digits = st.text(alphabet="0123456789", min_size=1, max_size=40)
number_literals = st.one_of(
    st.builds(lambda sign, i, f, e: f"{sign}{i}{f}{e}",
              st.sampled_from(["", "-", "+"]), digits,
              st.one_of(st.just(""), digits.map(lambda d: "." + d), st.just(".")),
              st.one_of(st.just(""), st.builds(lambda c, s, d: f"{c}{s}{d}",
                                               st.sampled_from("eE"),
                                               st.sampled_from(["", "+", "-"]),
                                               st.integers(0, 400).map(str)))),
    st.integers(min_value=0, max_value=HUGE_INTEGER_DIGITS + 5).map(lambda n: "9" * max(n, 1)),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "nan", "inf", "-NaN", "+Infinity",
                     "1" + "0" * 308, "2" + "0" * 308, "1" + "0" * 4400, "true", "null",
                     "1e308", "1.8e308", "2.2250738585072011e-308", "4.9e-324", "-0", "-0.0"]),
)


def field_paths(model: type[BaseModel]) -> list[tuple[Any, ...]]:
    payload = payload_for(model)
    paths: list[tuple[Any, ...]] = [(key,) for key in payload]
    paths.append(("extra_field",))
    if "fd" in payload:
        paths += [("fd", key) for key in payload["fd"]]
        paths += [("fd", "contributions", 0, "value"), ("fd", "contributions", 0, "feature"),
                  ("fd", "features", "velocity"), ("fd", "rule_results", "night")]
    return paths


@st.composite
def mutated_payloads(draw: st.DrawFn) -> tuple[type[BaseModel], bytes]:
    """A contract payload with a few fields replaced, dropped, duplicated or broken."""
    model = draw(st.sampled_from(MODELS))
    payload = payload_for(model)
    paths = field_paths(model)
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(paths))
        target = container(payload, path)
        if target is None:
            continue
        if draw(st.booleans()) and isinstance(target, dict) and path[-1] in target:
            del target[path[-1]]
        else:
            target[path[-1]] = draw(json_values)
    if draw(st.booleans()):
        raw = with_raw(payload, draw(st.sampled_from(paths)), draw(number_literals))
    else:
        # Lone surrogates (which json.dumps writes raw unless ensure_ascii) become
        # invalid UTF-8 bytes: poison both paths must name the same way.
        raw = json.dumps(payload, ensure_ascii=draw(st.booleans())).encode(
            "utf-8", "surrogatepass")
    if draw(st.booleans()):  # a duplicate key: json.loads keeps the last one
        key = draw(st.sampled_from([p[0] for p in paths]))
        raw = raw[:-1] + b", " + json.dumps(key).encode() + b": " + json.dumps(
            draw(json_values)).encode() + b"}"
    for _ in range(draw(st.integers(0, 2))):  # byte-level damage
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(max_size=3)) + raw[at + draw(st.integers(0, 2)):]
    return model, raw


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_payloads())
@example((ProcessedTransaction, json.dumps(decision_payload()).encode()))
def test_fast_path_decides_like_the_reference(case: tuple[type[BaseModel], bytes]) -> None:
    model, raw = case
    assert_same(model, raw)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_payloads())
@example((ProcessedTransaction, json.dumps(decision_payload()).encode()))
def test_encode_writes_what_model_dump_json_writes(case: tuple[type[BaseModel], bytes]) -> None:
    model, raw = case
    try:
        event = decode(model, raw)
    except PoisonMessageError:
        return
    assert encode(event) == event.model_dump_json(exclude_none=True).encode("utf-8")


NUMBER_PATHS: list[tuple[Any, ...]] = [
    ("transaction_amt",), ("billing_latitude",), ("schema_version",), ("event_id",), ("card_bin",),
    ("event_time",), ("extra_field",), ("fd", "scorer_time"), ("fd", "proc_time"),
    ("fd", "contributions", 0, "value"), ("fd", "features", "velocity"),
    ("fd", "model_scores", "fraudstream"),
]


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(NUMBER_PATHS), number_literals)
def test_every_number_literal_is_read_like_the_reference(path: tuple[Any, ...],
                                                         literal: str) -> None:
    assert_same(ProcessedTransaction, with_raw(decision_payload(), path, literal))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_are_judged_like_the_reference(raw: bytes) -> None:
    for model in MODELS:
        assert_same(model, raw)


def _tx(**changes: Any) -> dict[str, Any]:
    payload = decision_payload()
    payload.update(changes)
    return payload


def _fd(**changes: Any) -> dict[str, Any]:
    payload = decision_payload()
    payload["fd"].update(changes)
    return payload


BASE = json.dumps(decision_payload()).encode()


def nested(depth: int) -> bytes:
    """``BASE`` with an unknown field of ``depth`` nested lists."""
    return BASE[:-1] + b', "zz": ' + b"[" * depth + b"]" * depth + b"}"

EDGE_CASES: dict[str, bytes] = {
    "valid": BASE,
    "naive, Z, offset and space timestamps": json.dumps(_tx(
        event_time="2026-11-25 10:00:00", fd={**decision_payload()["fd"],
                                               "scored_at": "2026-11-25T10:00:00Z"})).encode(),
    "integer and upper-case inputs": json.dumps(_tx(
        transaction_amt=12, transaction_currency=" USD ", card_bin=411111, event_id=123)).encode(),
    "NaN and infinities where floats allow them": json.dumps(_fd(
        scorer_time=math.inf, features={"a": math.nan, "b": -math.inf},
        contributions=[{"feature": "a", "value": math.nan, "contribution": 1}])).encode(),
    "non-finite amount": json.dumps(_tx(transaction_amt=math.nan)).encode(),
    "integer beyond the float range (accepted by pydantic-core as inf)":
        with_raw(decision_payload(), ("fd", "scorer_time"), "1" + "0" * 400),
    "integer beyond the float range in a list":
        with_raw(decision_payload(), ("fd", "contributions", 0, "value"), "-" + "9" * 309),
    "integer of 5,000 digits (json.loads refuses it)":
        with_raw(decision_payload(), ("extra_field",), "7" * 5000),
    "largest integer below the float range":
        with_raw(decision_payload(), ("fd", "scorer_time"), "9" * 308),
    "float literal beyond the range": with_raw(decision_payload(), ("fd", "scorer_time"), "1e400"),
    "duplicate key, last wins": BASE[:-1] + b', "customer_name": "Other"}',
    "duplicate key, first invalid": b'{"transaction_amt": "bad", ' + BASE[1:],
    "UTF-8 byte order mark": b"\xef\xbb\xbf" + BASE,
    "surrounding whitespace": b" \n\t" + BASE + b"\r\n ",
    "trailing garbage": BASE + b"x",
    "lone surrogate escape in a field": BASE.replace(b'"Jessica"', b'"\\ud800"'),
    "lone surrogate escape in an unknown field": BASE[:-1] + b', "zz": "\\udc00"}',
    "raw control character in a string": BASE.replace(b'"Jessica"', b'"Jes\x01sica"'),
    "raw DEL in a string": BASE.replace(b'"Jessica"', b'"Jes\x7fsica"'),
    "invalid UTF-8": BASE.replace(b'"Jessica"', b'"Jes\xffsica"'),
    "UTF-8 encoded surrogate": BASE.replace(b'"Jessica"', b'"\xed\xa0\x80"'),
    "nesting 150 deep in an unknown field": nested(150),
    "nesting 300 deep (beyond pydantic-core's limit)": nested(300),
    "nesting 5,000 deep (beyond json's)": nested(5000),
    "NaN literal in an unknown field": BASE[:-1] + b', "zz": NaN}',
    "top-level array": b"[1, 2]",
    "top-level null": b"null",
    "empty object": b"{}",
    "leading zero": with_raw(decision_payload(), ("fd", "proc_time"), "012"),
    "exponent in an integer field": with_raw(decision_payload(), ("fd", "proc_time"), "1e5"),
    "huge exponent in an integer field": with_raw(decision_payload(), ("fd", "proc_time"), "1e30"),
    "big integer in an integer field": with_raw(decision_payload(), ("fd", "proc_time"), "9" * 40),
    "fraction in an integer field": with_raw(decision_payload(), ("schema_version",), "1.5"),
    "boolean schema version": with_raw(decision_payload(), ("schema_version",), "true"),
    "escaped key": BASE.replace(b'"customer_name"', b'"customer\\u005fname"'),
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_edge_cases_are_decided_like_the_reference(model: type[BaseModel], name: str) -> None:
    assert_same(model, EDGE_CASES[name])


def test_valid_values_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_reference(*_: Any) -> None:
        raise AssertionError("the reference path ran for a valid value")

    monkeypatch.setattr("fraudstream_shared.events.codec.decode_checked", no_reference)
    decided = decode(ProcessedTransaction, BASE)
    assert decided.event_time.tzinfo is UTC
    assert decided.fd.scored_at == datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)


@given(st.lists(st.tuples(st.integers(0, 400), st.text(alphabet=' ,."e-:[]x', min_size=1,
                                                      max_size=3)), max_size=12))
def test_every_huge_digit_run_is_noticed(runs: list[tuple[int, str]]) -> None:
    raw = "".join("7" * length + separator for length, separator in runs).encode()
    longest = max((len(run) for run in re.findall(rb"[0-9]+", raw)), default=0)
    if longest >= HUGE_INTEGER_DIGITS:
        assert may_hold_huge_integer(raw)
    if longest < (HUGE_INTEGER_DIGITS + 1) // 2:  # too short to cover a whole block
        assert not may_hold_huge_integer(raw)


@pytest.mark.parametrize("padding", [0, 1, 154, 155, 156, 700])
def test_a_huge_integer_is_noticed_wherever_it_starts(padding: int) -> None:
    raw = b'{"a": "' + b"x" * padding + b'", "b": ' + b"9" * HUGE_INTEGER_DIGITS + b"}"
    assert may_hold_huge_integer(raw)


def test_an_integer_beyond_pythons_digit_limit_is_poison_not_a_crash() -> None:
    raw = with_raw(decision_payload(), ("fd", "proc_time"), "9" * 5000)
    with pytest.raises(PoisonMessageError) as caught:
        decode(ProcessedTransaction, raw)
    assert caught.value.reason == "invalid_json"
