"""The one error a rule set raises when it cannot be loaded, with where and why."""

from __future__ import annotations

from dataclasses import dataclass, replace

from fraudstream_shared.exceptions import ConfigError


@dataclass(frozen=True)
class Location:
    """Where an error is: the rule, the position in its expression, the file line."""

    rule_id: str | None = None
    line: int | None = None
    column: int | None = None
    source: str | None = None
    yaml_line: int | None = None


class RuleSetError(ConfigError):
    """A rule set (or one expression) is invalid; nothing of it is loaded.

    ``str(error)`` reads ``rule 'big_night_spend': expected ')' at 1:27, found end
    of expression (default.yaml line 14)``: the rule id, the message, the line and
    column inside the expression (1-based), what was found there and the line of
    the YAML file.
    """

    def __init__(self, message: str, location: Location | None = None,
                 found: str | None = None) -> None:
        self.message = message
        self.location = location or Location()
        self.found = found
        super().__init__(self._render())

    @property
    def rule_id(self) -> str | None:
        """The id of the rule at fault, when the error is inside a rule."""
        return self.location.rule_id

    @property
    def line(self) -> int | None:
        """Line within the expression (1-based), when the error is inside one."""
        return self.location.line

    @property
    def column(self) -> int | None:
        """Column within the expression (1-based), when the error is inside one."""
        return self.location.column

    @property
    def yaml_line(self) -> int | None:
        """Line of the YAML file (1-based), when known."""
        return self.location.yaml_line

    def within(self, *, rule_id: str | None = None, source: str | None = None,
               yaml_line: int | None = None) -> RuleSetError:
        """The same error with outer context added (inner context is kept)."""
        loc = self.location
        return RuleSetError(
            self.message,
            replace(
                loc,
                rule_id=loc.rule_id or rule_id,
                source=loc.source or source,
                yaml_line=loc.yaml_line or yaml_line,
            ),
            self.found,
        )

    def _render(self) -> str:
        loc = self.location
        text = f"rule '{loc.rule_id}': " if loc.rule_id else ""
        text += self.message
        if loc.line is not None and loc.column is not None:
            text += f" at {loc.line}:{loc.column}"
        if self.found is not None:
            text += f", found {self.found}"
        if loc.yaml_line is not None:
            text += f" ({loc.source or 'rules'} line {loc.yaml_line})"
        elif loc.source is not None:
            text += f" ({loc.source})"
        return text


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def error_at(text: str, offset: int, message: str, found: str | None = None) -> RuleSetError:
    """A :class:`RuleSetError` at ``offset`` of the expression ``text``."""
    line, column = position(text, offset)
    return RuleSetError(message, Location(line=line, column=column), found)
