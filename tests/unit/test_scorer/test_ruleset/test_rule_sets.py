"""Rule-set files: loading, lists with expiry, FIRST/ALL_MATCHED, reasons and load errors."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fraudstream_shared.events import Outcome
from scorer.ruleset import (
    DecidedBy,
    ExecutionMode,
    ListHit,
    ListKind,
    RuleMatch,
    RuleSet,
    RuleSetError,
    evaluate,
    evaluate_batch,
    load_rule_set,
    parse_rule_set,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DEFAULT_FILE = (Path(__file__).resolve().parents[4]
                / "services/scorer/scorer/data/rules/default.yaml")

RULES = """
  - id: block_high_score
    expression: model.fraudstream >= 900
    outcome: block
    reason: "score {model.fraudstream}"
  - id: review_card_testing
    expression: customer.count_1h > 10 and transaction_amt < 5
    outcome: review
    reason: "{customer.count_1h} in 1h, amount {transaction_amt}"
  - id: approve_tiny
    expression: transaction_amt < 1
    outcome: approve
    reason: tiny
  - id: switched_off
    expression: transaction_amt >= 0
    outcome: block
    reason: never
    enabled: false
"""

LISTS = """
lists:
  - name: blocked_emails
    kind: block
    field: email_address
    ignore_case: true
    entries:
      - {value: Bad@Example.invalid, reason_code: confirmed_fraud}
      - value: temp@example.invalid
        reason_code: dispute
        expires_at: "2026-11-26T00:00:00Z"
  - name: trusted
    kind: allow
    field: customer.id
    entries:
      - {value: qa-1, reason_code: qa_account}
      - {value: 42, reason_code: numeric_id, expires_at: 2026-11-25}
"""


def rule_set(mode: str = "ALL_MATCHED", rules: str = RULES, lists: str = LISTS) -> RuleSet:
    text = f'version: "v1"\nmode: {mode}\nrules:{rules}{lists}'
    return parse_rule_set(text, source="test.yaml")


def test_default_rule_file_loads_and_decides() -> None:
    rules = load_rule_set(DEFAULT_FILE)
    assert rules.mode is ExecutionMode.ALL_MATCHED
    assert rules.version == "2026-11-25.2"
    ids = {r.rule_id for r in rules.rules}
    assert {"block_high_score", "review_elevated_score", "review_card_testing",
            "review_large_amount", "review_account_takeover"} <= ids
    assert {named.kind for named in rules.lists} == {ListKind.ALLOW, ListKind.BLOCK}

    quiet = {"model.fraudstream": 120, "transaction_amt": 42.0, "email_address": "a@b.example",
             "entity_id": "c1", "customer.count_1h": 1, "customer.distinct_ip_24h": 1}
    assert evaluate(rules, quiet, NOW).outcome is Outcome.APPROVE
    assert evaluate(rules, {**quiet, "model.fraudstream": 950}, NOW).outcome is Outcome.BLOCK
    assert evaluate(rules, {**quiet, "model.fraudstream": 920}, NOW).outcome is Outcome.REVIEW
    assert evaluate(rules, {**quiet, "model.fraudstream": 850}, NOW).outcome is Outcome.APPROVE
    testing = {**quiet, "customer.count_1h": 14, "transaction_amt": 1.0}
    assert evaluate(rules, testing, NOW).rule_results["review_card_testing"] == [Outcome.REVIEW]
    takeover = {**quiet, "customer.distinct_ip_24h": 7, "customer.amount_ratio_30d": 4.0}
    assert evaluate(rules, takeover, NOW).outcome is Outcome.REVIEW
    blocked = {**quiet, "email_address": "Chargeback.Ring@example.invalid"}
    assert evaluate(rules, blocked, NOW).decided_by is DecidedBy.BLOCK_LIST
    trusted = {**quiet, "entity_id": "qa-synthetic-0001", "model.fraudstream": 999}
    assert evaluate(rules, trusted, NOW).outcome is Outcome.APPROVE


def test_all_matched_reports_every_rule_and_the_most_severe_outcome_wins() -> None:
    rules = rule_set()
    row = {"model.fraudstream": 950, "customer.count_1h": 12, "transaction_amt": 0.5}
    result = evaluate(rules, row, NOW)
    assert result.outcome is Outcome.BLOCK
    assert result.decided_by is DecidedBy.RULES
    assert result.rule_results == {
        "block_high_score": [Outcome.BLOCK],
        "review_card_testing": [Outcome.REVIEW],
        "approve_tiny": [Outcome.APPROVE],
    }
    assert [m.rule_id for m in result.matched] == ["block_high_score", "review_card_testing",
                                                  "approve_tiny"]
    assert result.version == "v1"


def test_all_matched_review_beats_approve_and_no_match_approves() -> None:
    rules = rule_set()
    review = evaluate(rules, {"customer.count_1h": 12, "transaction_amt": 0.5}, NOW)
    assert review.outcome is Outcome.REVIEW
    nothing = evaluate(rules, {"transaction_amt": 100}, NOW)
    assert nothing.outcome is Outcome.APPROVE
    assert nothing.decided_by is DecidedBy.DEFAULT
    assert nothing.rule_results == {"block_high_score": [], "review_card_testing": [],
                                    "approve_tiny": []}
    assert nothing.matched == ()


def test_first_matched_stops_at_the_first_match_and_omits_later_rules() -> None:
    rules = rule_set("FIRST_MATCHED")
    row = {"model.fraudstream": 100, "customer.count_1h": 12, "transaction_amt": 0.5}
    result = evaluate(rules, row, NOW)
    assert result.outcome is Outcome.REVIEW
    # approve_tiny also matches but is after the first match: not evaluated, absent.
    assert result.rule_results == {"block_high_score": [],
                                   "review_card_testing": [Outcome.REVIEW]}
    approve_first = rule_set("FIRST_MATCHED", rules=RULES.replace(
        "  - id: block_high_score", "  - id: first\n    expression: transaction_amt < 1\n"
        "    outcome: approve\n    reason: first\n  - id: block_high_score"))
    assert evaluate(approve_first, row | {"model.fraudstream": 999}, NOW).outcome \
        is Outcome.APPROVE


def test_disabled_rules_are_never_evaluated_or_reported() -> None:
    rules = rule_set()
    assert not rules.rule("switched_off").enabled
    result = evaluate(rules, {"transaction_amt": 10}, NOW)
    assert "switched_off" not in result.rule_results


def test_reason_placeholders_are_filled_at_evaluation() -> None:
    rules = rule_set()
    row = {"customer": {"count_1h": 12}, "transaction_amt": 0.25, "model.fraudstream": 901.0}
    result = evaluate(rules, row, NOW)
    assert RuleMatch("block_high_score", Outcome.BLOCK, "score 901") in result.matched
    assert RuleMatch("review_card_testing", Outcome.REVIEW, "12 in 1h, amount 0.25") \
        in result.matched
    assert "review_card_testing: 12 in 1h, amount 0.25" in result.reasons


def test_reason_placeholders_show_null_booleans_braces_and_cut_long_values() -> None:
    rules = rule_set(rules="""
  - id: r
    expression: "true"
    outcome: review
    reason: "{{literal}} {missing} {flag} {long}"
""", lists="")
    reason = evaluate(rules, {"flag": False, "long": "x" * 100}, NOW).matched[0].reason
    assert reason == "{literal} null false " + "x" * 64 + "…"


def test_block_list_blocks_case_insensitively_and_skips_rules() -> None:
    rules = rule_set()
    result = evaluate(rules, {"email_address": "bad@example.INVALID", "transaction_amt": 0.5},
                      NOW)
    assert result.outcome is Outcome.BLOCK
    assert result.decided_by is DecidedBy.BLOCK_LIST
    assert result.rule_results == {}
    assert result.list_hits == (ListHit("blocked_emails", ListKind.BLOCK, "email_address",
                                        "confirmed_fraud"),)
    assert result.reasons == ["blocked_emails: confirmed_fraud"]


def test_allow_list_approves_and_skips_rules() -> None:
    rules = rule_set()
    result = evaluate(rules, {"customer": {"id": "qa-1"}, "model.fraudstream": 999}, NOW)
    assert result.outcome is Outcome.APPROVE
    assert result.decided_by is DecidedBy.ALLOW_LIST
    assert result.rule_results == {}


def test_block_list_beats_allow_list() -> None:
    rules = rule_set()
    row = {"customer.id": "qa-1", "email_address": "bad@example.invalid"}
    result = evaluate(rules, row, NOW)
    assert result.outcome is Outcome.BLOCK
    assert {hit.kind for hit in result.list_hits} == {ListKind.ALLOW, ListKind.BLOCK}


def test_expired_entries_are_ignored_and_expiry_is_exclusive() -> None:
    rules = rule_set()
    row = {"email_address": "temp@example.invalid"}
    expiry = datetime(2026, 11, 26, tzinfo=UTC)
    assert evaluate(rules, row, expiry - timedelta(microseconds=1)).outcome is Outcome.BLOCK
    assert evaluate(rules, row, expiry).decided_by is DecidedBy.DEFAULT
    # A bare YAML date expires at its midnight UTC; 42 (a number) is not '42'.
    numeric = {"customer.id": 42}
    assert evaluate(rules, numeric, NOW - timedelta(days=1)).outcome is Outcome.APPROVE
    assert evaluate(rules, numeric, NOW - timedelta(days=1)).decided_by is DecidedBy.ALLOW_LIST
    assert evaluate(rules, numeric, NOW).decided_by is DecidedBy.DEFAULT
    assert evaluate(rules, {"customer.id": "42"}, NOW - timedelta(days=1)).decided_by \
        is DecidedBy.DEFAULT


def test_expressions_can_use_named_lists_with_the_same_expiry() -> None:
    rules = rule_set(rules="""
  - id: review_listed
    expression: lower(contact) in blocked_emails
    outcome: review
    reason: listed contact
""")
    row = {"contact": "TEMP@example.invalid"}
    assert evaluate(rules, row, NOW).outcome is Outcome.REVIEW
    assert evaluate(rules, row, NOW + timedelta(days=2)).outcome is Outcome.APPROVE


def test_evaluate_batch_decides_each_row_and_needs_an_aware_now() -> None:
    rules = rule_set()
    rows: list[dict[str, object]] = [
        {"model.fraudstream": 950}, {"transaction_amt": 20}, {"customer.id": "qa-1"}]
    outcomes = [r.outcome for r in evaluate_batch(rules, rows, NOW)]
    assert outcomes == [Outcome.BLOCK, Outcome.APPROVE, Outcome.APPROVE]
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_batch(rules, rows, NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(rules, rows[0], NOW.replace(tzinfo=None))


def _doc(body: str) -> str:
    return textwrap.dedent(body).lstrip()


BASE = """\
version: "v1"
mode: ALL_MATCHED
rules:
  - id: ok
    expression: a > 1
    outcome: review
    reason: fine
"""


@pytest.mark.parametrize(("text", "message"), [
    # An expression error names the rule, the position in the expression and the file line.
    (BASE + """\
  - id: big_night_spend
    expression: transaction_amt > 1000 and (hour < 6
    outcome: review
    reason: r
""", "rule 'big_night_spend': expected ')' at 1:37, found end of expression "
     "(test.yaml line 9)"),
    (BASE + """\
  - id: multi
    expression: |
      a > 1
      and foo(b)
    outcome: review
    reason: r
""", "rule 'multi': unknown function 'foo' (known: abs, is_null, len, lower, matches) "
     "at 2:5 (test.yaml line 11)"),
    (BASE + """\
  - id: bad_regex
    expression: "matches(email, '[a-')"
    outcome: review
    reason: r
""", "rule 'bad_regex': invalid regular expression: unterminated character set at 1:16 "
     "(test.yaml line 9)"),
    (BASE + """\
  - id: trailing
    expression: a > 1 1
    outcome: review
    reason: r
""", "rule 'trailing': expected an operator or the end of the expression at 1:7, "
     "found '1' (test.yaml line 9)"),
    (BASE + """\
  - id: missing_operand
    expression: a == or b
    outcome: review
    reason: r
""", "rule 'missing_operand': expected a value at 1:6, found 'or' (test.yaml line 9)"),
    (BASE + """\
  - id: unterminated
    expression: "a == 'x"
    outcome: review
    reason: r
""", "rule 'unterminated': unterminated string at 1:6 (test.yaml line 9)"),
    (BASE + """\
  - id: deny
    expression: a > 1
    outcome: deny
    reason: r
""", "rule 'deny': rule: unknown outcome 'deny' (expected approve, review, block) "
     "(test.yaml line 10)"),
    (BASE + """\
  - id: ok
    expression: a > 2
    outcome: block
    reason: r
""", "rule 'ok': duplicate rule id (test.yaml line 8)"),
    (BASE + """\
  - id: typo
    expression: a > 2
    outcome: block
    reason: r
    enabeld: false
""", "rule 'typo': rule: unknown key 'enabeld' (allowed: enabled, expression, id, outcome, "
     "reason) (test.yaml line 12)"),
    (BASE + """\
  - id: no_reason
    expression: a > 2
    outcome: block
""", "rule 'no_reason': rule: missing reason (test.yaml line 8)"),
    (BASE + """\
  - id: enabled_text
    expression: a > 2
    outcome: block
    reason: r
    enabled: "no"
""", "rule 'enabled_text': rule: enabled must be true or false (test.yaml line 12)"),
    (BASE + """\
  - id: a number
    expression: a > 2
    outcome: block
    reason: r
""", "rule 2: id must be a string of letters, digits and _ . : - (at most 128) "
     "(test.yaml line 8)"),
    (BASE + """\
  - id: bad_placeholder
    expression: a > 2
    outcome: block
    reason: "amount {transaction_amt"
""", "rule 'bad_placeholder': unclosed '{' in reason (write '{{' for a brace) at 1:8 "
     "(test.yaml line 11)"),
    (BASE + """\
  - id: odd_placeholder
    expression: a > 2
    outcome: block
    reason: "amount {1 + 2}"
""", "rule 'odd_placeholder': reason placeholder {1 + 2} is not a variable name at 1:8"),
    (BASE + """\
  - id: uses_unknown_list
    expression: email in vip
    outcome: approve
    reason: r
""", "rule 'uses_unknown_list': unknown list 'vip' (none are defined) at 1:10"),
    (BASE + """\
  - id: not_a_condition
    expression: a + 1
    outcome: review
    reason: r
""", "rule 'not_a_condition': a rule must be a condition, not a number at 1:1"),
    (BASE + """\
  - id: yaml_bool
    expression: true
    outcome: review
    reason: r
""", "rule 'yaml_bool': rule: expression must be a non-empty string (quote it)"),
    (BASE.replace('"v1"', "2026-11-25"), "version must be a non-empty string (quote it) "
     "(test.yaml line 1)"),
    (BASE.replace('"v1"', '"has space"'), "version 'has space' must be letters"),
    (BASE.replace("ALL_MATCHED", "SOME_MATCHED"), "unknown mode 'SOME_MATCHED' "
     "(expected FIRST_MATCHED, ALL_MATCHED) (test.yaml line 2)"),
    (BASE.replace("mode: ALL_MATCHED\n", ""), "the rule set: missing mode"),
    (BASE + "extra: 1\n", "the rule set: unknown key 'extra'"),
    (BASE + "mode: FIRST_MATCHED\n", "duplicate key 'mode' (test.yaml line 8)"),
    ("- just\n- a list\n", "the rule set must be a mapping"),
    ("", "the rule set must be a mapping"),
    ("version: [unclosed\n", "invalid YAML"),
    ("version: 'v1'\n\tmode: x\n", "invalid YAML"),
    (BASE + "lists:\n  - name: l\n    kind: deny\n    field: x\n    entries: []\n",
     "list 'l': unknown kind 'deny' (expected allow, block) (test.yaml line 10)"),
    (BASE + "lists:\n  - name: l\n    kind: block\n    field: 'a b'\n    entries: []\n",
     "list 'l': field 'a b' is not a variable name (test.yaml line 11)"),
    (BASE + "lists:\n  - name: in\n    kind: block\n    field: x\n    entries: []\n",
     "list 1: name must be a letter or _ then letters, digits or _"),
    (BASE + "lists:\n  - {name: l, kind: block, field: x, entries: []}\n"
            "  - {name: l, kind: allow, field: y, entries: []}\n",
     "duplicate list name 'l' (test.yaml line 10)"),
    (BASE + "lists:\n  - name: l\n    kind: block\n    field: x\n    entries:\n"
            "      - {value: a, reason_code: r}\n      - {value: a, reason_code: s}\n",
     "list 'l': duplicate entry 'a' (test.yaml line 14)"),
    (BASE + "lists:\n  - name: l\n    kind: block\n    field: x\n    entries:\n"
            "      - {value: a, reason_code: r, expires_at: 'next week'}\n",
     "list 'l' entry 1: expires_at 'next week' is not an ISO 8601 timestamp"),
    (BASE + "lists:\n  - name: l\n    kind: block\n    field: x\n    entries:\n"
            "      - {value: null, reason_code: r}\n",
     "list 'l' entry 1: value must be a string, a number or a boolean"),
    (BASE + "lists:\n  - name: l\n    kind: block\n    field: x\n    entries:\n"
            "      - {value: a}\n",
     "list 'l' entry 1: missing reason_code"),
])
def test_load_errors_name_the_rule_position_and_line(text: str, message: str) -> None:
    with pytest.raises(RuleSetError) as caught:
        parse_rule_set(text, source="test.yaml")
    assert message in str(caught.value)


def test_an_invalid_disabled_rule_still_fails_the_whole_file() -> None:
    text = BASE + "  - id: off_rule\n    expression: a >\n    outcome: block\n" \
                  "    reason: r\n    enabled: false\n"
    with pytest.raises(RuleSetError, match="rule 'off_rule'"):
        parse_rule_set(text)


def test_error_attributes_for_metrics_and_readiness() -> None:
    text = BASE + "  - id: x\n    expression: (a\n    outcome: block\n    reason: r\n"
    with pytest.raises(RuleSetError) as caught:
        parse_rule_set(text, source="f.yaml")
    error = caught.value
    assert (error.rule_id, error.line, error.column, error.yaml_line) == ("x", 1, 3, 9)
    assert error.message == "expected ')'"


def test_missing_file_is_a_rule_set_error(tmp_path: Path) -> None:
    with pytest.raises(RuleSetError, match="cannot read the rule set"):
        load_rule_set(tmp_path / "absent.yaml")


def test_a_rule_set_is_immutable_and_identified_by_its_content() -> None:
    first, second = rule_set(), rule_set()
    assert first.digest == second.digest
    assert rule_set(lists="").digest != first.digest
    with pytest.raises(AttributeError):
        first.version = "v2"  # type: ignore[misc]


def test_variables_are_every_name_a_condition_reason_or_list_reads() -> None:
    rules = """
  - id: every_node
    expression: >-
      -a.b + c * 2 > d / e and not (f in [1, 'x'] or g not in trusted)
      and matches(lower(h), 'x') and abs(i) < len(j) and is_null(k.l.m)
    outcome: review
    reason: "{n.o} {{literal}} {p}"
  - id: disabled_one
    expression: q == 1
    outcome: block
    reason: "{r}"
    enabled: false
"""
    assert rule_set(rules=rules).variables == {
        "a.b", "c", "d", "e", "f", "g", "trusted", "h", "i", "j", "k.l.m", "n.o", "p", "q", "r",
        "email_address", "customer.id"}
