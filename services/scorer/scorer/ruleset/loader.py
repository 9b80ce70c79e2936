"""Read a rule-set YAML file into a compiled :class:`RuleSet`, strictly, and hot-reload it.

Every key is checked (unknown keys are errors: a misspelt ``enabeld`` must not
silently enable a rule), duplicate keys and ids are errors, every expression and
reason is compiled. Loading either returns a complete set or raises
:class:`RuleSetError`; nothing is ever half-loaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from fraudstream_shared.events import Outcome
from fraudstream_shared.logging import log_event
from scorer.ruleset.compiler import check_name, compile_expression, variable_getter
from scorer.ruleset.errors import Location, RuleSetError
from scorer.ruleset.lexer import KEYWORDS
from scorer.ruleset.model import ExecutionMode, ListEntry, ListKind, NamedList, Rule, RuleSet
from scorer.ruleset.template import compile_template
from scorer.ruleset.values import membership_key

log = logging.getLogger(__name__)

_RULE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}")
_LIST_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}")
_MAX_TEXT = 512


# -- YAML with line numbers and no duplicate keys ----------------------------
class _Mapping(dict[Any, Any]):
    """A YAML mapping that remembers its line and the line (and style) of each value."""

    line: int
    value_lines: dict[Any, tuple[int, str | None]]


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """PyYAML's safe loader (no Python objects), recording lines, refusing duplicate keys."""


def _construct_mapping(loader: _Loader, node: Any) -> _Mapping:
    loader.flatten_mapping(node)
    result = _Mapping()
    result.line = node.start_mark.line + 1
    result.value_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, Hashable):
            raise RuleSetError("mapping keys must be plain values", Location(yaml_line=line))
        if key in result:
            raise RuleSetError(f"duplicate key {key!r}", Location(yaml_line=line))
        result[key] = loader.construct_object(value_node, deep=True)
        style = value_node.style if isinstance(value_node, yaml.ScalarNode) else None
        result.value_lines[key] = (value_node.start_mark.line + 1, style)
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# -- public API ----------------------------------------------------------------
def load_rule_set(path: str | os.PathLike[str]) -> RuleSet:
    """Read and compile the rule set in ``path``; raises :class:`RuleSetError`."""
    return parse_rule_set(_read(Path(path)), source=str(path))


def parse_rule_set(text: str, source: str = "<string>") -> RuleSet:
    """Compile the rule set in the YAML ``text``; ``source`` names it in errors."""
    try:
        document = yaml.load(text, Loader=_Loader)
    except RuleSetError as exc:
        raise exc.within(source=source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RuleSetError(f"invalid YAML: {problem}", Location(
            source=source, yaml_line=mark.line + 1 if mark is not None else None)) from None
    except RecursionError:
        raise RuleSetError("invalid YAML: nested too deeply", Location(source=source)) from None
    try:
        return _build(document, text, source)
    except RuleSetError as exc:
        raise exc.within(source=source) from None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise RuleSetError(f"cannot read the rule set: {reason}",
                           Location(source=str(path))) from None


# -- validation helpers ----------------------------------------------------------
def _error(message: str, mapping: Mapping[Any, Any] | None = None,
           key: str | None = None, rule_id: str | None = None) -> RuleSetError:
    return RuleSetError(message, Location(rule_id=rule_id, yaml_line=_line(mapping, key)))


def _line(mapping: Mapping[Any, Any] | None, key: str | None = None) -> int | None:
    if not isinstance(mapping, _Mapping):
        return None
    if key is not None and key in mapping.value_lines:
        return mapping.value_lines[key][0]
    return mapping.line


def _mapping(value: object, what: str, parent: Mapping[Any, Any] | None = None,
             key: str | None = None) -> _Mapping:
    if not isinstance(value, _Mapping):
        raise _error(f"{what} must be a mapping", parent, key)
    return value


def _keys(mapping: _Mapping, required: set[str], optional: set[str], what: str,
          rule_id: str | None = None) -> None:
    for key in mapping:
        if key not in required | optional:
            allowed = ", ".join(sorted(required | optional))
            raise _error(f"{what}: unknown key {key!r} (allowed: {allowed})", mapping, key,
                         rule_id)
    missing = sorted(required - set(mapping))
    if missing:
        raise _error(f"{what}: missing {', '.join(missing)}", mapping, rule_id=rule_id)


def _text(mapping: _Mapping, key: str, what: str, rule_id: str | None = None,
          limit: int = _MAX_TEXT) -> str:
    value = mapping[key]
    if not isinstance(value, str) or not value.strip():
        raise _error(f"{what}: {key} must be a non-empty string (quote it)", mapping, key,
                     rule_id)
    if len(value) > limit:
        raise _error(f"{what}: {key} longer than {limit} characters", mapping, key, rule_id)
    return value


def _choice(mapping: _Mapping, key: str, choices: list[str], what: str,
            rule_id: str | None = None) -> str:
    value = mapping[key]
    if value not in choices:
        raise _error(f"{what}: unknown {key} {value!r} (expected {', '.join(choices)})",
                     mapping, key, rule_id)
    return str(value)


def _bool(mapping: _Mapping, key: str, default: bool, what: str,
          rule_id: str | None = None) -> bool:
    value = mapping.get(key, default)
    if not isinstance(value, bool):
        raise _error(f"{what}: {key} must be true or false", mapping, key, rule_id)
    return value


def _list(mapping: _Mapping, key: str, what: str) -> list[Any]:
    value = mapping.get(key, [])
    if not isinstance(value, list):
        raise _error(f"{what} must be a list", mapping, key)
    return value


# -- the document ------------------------------------------------------------------
def _build(document: object, text: str, source: str) -> RuleSet:
    top = _mapping(document, "the rule set")
    _keys(top, {"version", "mode", "rules"}, {"lists"}, "the rule set")
    version = _text(top, "version", "the rule set", limit=64)
    if not _VERSION.fullmatch(version):
        raise _error(f"version {version!r} must be letters, digits and . _ : + - "
                     "(like '2026-11-25.1')", top, "version")
    mode = ExecutionMode(_choice(top, "mode", [m.value for m in ExecutionMode], "the rule set"))

    lists: dict[str, NamedList] = {}
    for index, item in enumerate(_list(top, "lists", "lists"), start=1):
        named = _build_list(_mapping(item, f"list {index}", top, "lists"), index)
        if named.name in lists:
            raise _error(f"duplicate list name '{named.name}'", item, "name")
        lists[named.name] = named

    rules: list[Rule] = []
    seen: set[str] = set()
    for index, item in enumerate(_list(top, "rules", "rules"), start=1):
        rule = _build_rule(_mapping(item, f"rule {index}", top, "rules"), index, lists)
        if rule.rule_id in seen:
            raise _error("duplicate rule id", item, "id", rule.rule_id)
        seen.add(rule.rule_id)
        rules.append(rule)

    return RuleSet(version=version, mode=mode, rules=tuple(rules), lists=tuple(lists.values()),
                   source=source, digest=hashlib.sha256(text.encode()).hexdigest())


def _build_rule(item: _Mapping, index: int, lists: Mapping[str, NamedList]) -> Rule:
    what = f"rule {index}"
    raw_id = item.get("id")
    if not isinstance(raw_id, str) or not _RULE_ID.fullmatch(raw_id):
        raise _error(f"{what}: id must be a string of letters, digits and _ . : - "
                     "(at most 128)", item, "id")
    rule_id = raw_id
    _keys(item, {"id", "expression", "outcome", "reason"}, {"enabled"}, "rule", rule_id)
    expression = _text(item, "expression", "rule", rule_id, limit=4000)
    outcome = Outcome(_choice(item, "outcome", [o.value for o in Outcome], "rule", rule_id))
    reason = _text(item, "reason", "rule", rule_id)
    enabled = _bool(item, "enabled", True, "rule", rule_id)
    try:
        condition = compile_expression(expression, lists)
    except RuleSetError as exc:
        raise exc.within(rule_id=rule_id,
                         yaml_line=_expression_line(item, "expression", exc.line)) from None
    try:
        render = compile_template(reason)
    except RuleSetError as exc:
        raise exc.within(rule_id=rule_id, yaml_line=_line(item, "reason")) from None
    return Rule(rule_id=rule_id, expression=expression, outcome=outcome, reason=reason,
                enabled=enabled, condition=condition, render_reason=render,
                yaml_line=item.line)


def _expression_line(item: _Mapping, key: str, line: int | None) -> int | None:
    """The file line of line ``line`` of a scalar; exact for plain and ``|`` scalars."""
    start, style = item.value_lines.get(key, (item.line, None))
    offset = (line or 1) - 1
    # A block scalar's text starts on the line after its '|' or '>' indicator.
    return start + offset + (1 if style in ("|", ">") else 0)


def _build_list(item: _Mapping, index: int) -> NamedList:
    what = f"list {index}"
    _keys(item, {"name", "kind", "field", "entries"}, {"ignore_case"}, what)
    name = _text(item, "name", what)
    if not _LIST_NAME.fullmatch(name) or name in KEYWORDS or name.startswith("__"):
        raise _error(f"{what}: name must be a letter or _ then letters, digits or _",
                     item, "name")
    what = f"list '{name}'"
    kind = ListKind(_choice(item, "kind", [k.value for k in ListKind], what))
    field_name = _text(item, "field", what)
    try:
        check_name(field_name)
    except RuleSetError:
        raise _error(f"{what}: field {field_name!r} is not a variable name", item,
                     "field") from None
    ignore_case = _bool(item, "ignore_case", False, what)
    if not isinstance(item["entries"], list):
        raise _error(f"{what}: entries must be a list", item, "entries")
    entries: list[ListEntry] = []
    index_by_key: dict[Hashable, ListEntry] = {}
    for number, raw in enumerate(item["entries"], start=1):
        entry = _build_entry(_mapping(raw, f"{what} entry {number}", item, "entries"),
                             f"{what} entry {number}", ignore_case)
        key = membership_key(entry.value)
        if key in index_by_key:
            raise _error(f"{what}: duplicate entry {entry.value!r}", raw, "value")
        index_by_key[key] = entry
        entries.append(entry)
    return NamedList(name=name, kind=kind, field=field_name, entries=tuple(entries),
                     ignore_case=ignore_case, get_field=variable_getter(field_name),
                     _index=index_by_key)


def _build_entry(raw: _Mapping, what: str, ignore_case: bool) -> ListEntry:
    _keys(raw, {"value", "reason_code"}, {"expires_at"}, what)
    value = raw["value"]
    if isinstance(value, float) and value != value:
        raise _error(f"{what}: value must not be NaN", raw, "value")
    if not isinstance(value, str | int | float | bool) or membership_key(value) is None:
        raise _error(f"{what}: value must be a string, a number or a boolean", raw, "value")
    if isinstance(value, str) and ignore_case:
        value = value.lower()
    reason_code = _text(raw, "reason_code", what, limit=128)
    expires_at = _timestamp(raw, "expires_at", what) if "expires_at" in raw else None
    return ListEntry(value=value, reason_code=reason_code, expires_at=expires_at)


def _timestamp(raw: _Mapping, key: str, what: str) -> datetime:
    """An ISO 8601 date or timestamp; naive ones are UTC, a bare date is its midnight UTC."""
    value = raw[key]
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise _error(f"{what}: {key} {value!r} is not an ISO 8601 timestamp", raw,
                         key) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise _error(f"{what}: {key} must be an ISO 8601 timestamp", raw, key)


# -- hot reload ----------------------------------------------------------------------
@dataclass(frozen=True)
class _Signature:
    mtime_ns: int
    size: int
    inode: int


class RuleSetLoader:
    """Holds the running rule set and swaps in a new file version when it changes.

    The constructor loads ``path`` and raises :class:`RuleSetError` when it is
    invalid (the service must not start without rules). Afterwards
    :meth:`maybe_reload` stats the file and, only when its mtime, size or inode
    changed, parses it; a valid new version replaces :attr:`current` in one
    assignment, an invalid one is logged (``scorer.rules.rejected``) and kept in
    :attr:`last_error` while the running set stays in force. Write rule files
    atomically (write a temporary file, then rename) so a half-written file is
    never read.
    """

    def __init__(self, path: str | os.PathLike[str], *, min_interval: float = 0.0) -> None:
        self.path = Path(path)
        self.min_interval = min_interval
        """Seconds between two stats; 0 stats on every :meth:`maybe_reload`."""
        self._signature = self._stat()
        self._current = load_rule_set(self.path)
        self._last_check: float | None = None
        self.last_error: RuleSetError | None = None
        """Why the latest changed file was rejected; ``None`` once a valid one loads."""
        self.reloads = 0
        self.rejections = 0

    @property
    def current(self) -> RuleSet:
        """The rule set in force."""
        return self._current

    def maybe_reload(self, now: float) -> bool:
        """Reload if the file changed; ``True`` when a new version was swapped in.

        ``now`` is a monotonic clock reading in seconds (``time.monotonic()``),
        used only to skip the stat when called again within :attr:`min_interval`.
        Never raises for a bad file.
        """
        if self._last_check is not None and now - self._last_check < self.min_interval:
            return False
        self._last_check = now
        try:
            signature = self._stat()
        except RuleSetError as exc:
            if self._signature is not None:
                self._signature = None
                self._reject(exc)
            return False
        if signature == self._signature:
            return False
        # Stat before reading: a write landing after the read changes the
        # signature again and is picked up on the next call.
        self._signature = signature
        try:
            candidate = load_rule_set(self.path)
        except RuleSetError as exc:
            self._reject(exc)
            return False
        previous = self._current
        if candidate.digest == previous.digest:
            return False  # touched, not changed
        if candidate.version == previous.version:
            # Decisions record the version; two different sets under one version
            # would make them unauditable.
            self._reject(RuleSetError(
                f"version '{candidate.version}' is already running with different "
                "content; change the version", Location(source=str(self.path))))
            return False
        self._current = candidate
        self.last_error = None
        self.reloads += 1
        log_event(log, logging.INFO, "scorer.rules.loaded", path=str(self.path),
                  version=candidate.version, previous_version=previous.version,
                  rules=len(candidate.rules), lists=len(candidate.lists))
        return True

    def _reject(self, error: RuleSetError) -> None:
        self.last_error = error
        self.rejections += 1
        log_event(log, logging.WARNING, "scorer.rules.rejected", path=str(self.path),
                  error=str(error), kept_version=self._current.version)

    def _stat(self) -> _Signature | None:
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise RuleSetError(f"cannot read the rule set: {exc.strerror}",
                               Location(source=str(self.path))) from None
        return _Signature(stat.st_mtime_ns, stat.st_size, stat.st_ino)
