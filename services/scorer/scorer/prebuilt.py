"""Pydantic models built from values that are already valid, without validating them again.

What ``model_construct`` does for a model without aliases, extras, private
attributes or post-init, minus its per-field Python loop. The scorer builds a
few hundred decisions and contributions per batch from values it made itself
(checked once per batch), so validating them again would cost more than the
work that made them. This relies on pydantic's instance layout (``__dict__``
and three private slots): the engine's byte-for-byte equivalence tests guard
it across pydantic upgrades.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def assemble(cls: type[M], values: dict[str, Any]) -> M:
    """``cls.model_construct(**values)`` for every field, in field order, already valid.

    What ``model_construct`` does for a model without aliases, extras, private
    attributes or post-init, minus its per-field Python loop (which costs more
    than validating). ``values`` becomes the instance's ``__dict__``.
    """
    if not _plain(cls):
        return cls.model_construct(**values)
    model = cls.__new__(cls)
    _setattr(model, "__dict__", values)
    _setattr(model, "__pydantic_fields_set__", set(values))
    _setattr(model, "__pydantic_extra__", None)
    _setattr(model, "__pydantic_private__", None)
    return model


_setattr = object.__setattr__
# The slots every model instance has (BaseModel's): set through their descriptors
# directly, which is cheaper than object.__setattr__ looking them up by name.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def constructor(cls: type[M]) -> Callable[[dict[str, Any]], M]:
    """``assemble(cls, values)`` for ``values`` that hold every field of ``cls`` and no more.

    Their fields-set is then the set of all fields. For a frozen ``cls`` every
    instance shares one such set: pydantic only adds to an instance's set when
    a field is assigned (refused when frozen), and copies it before changing a
    copy's (``model_copy``), so sharing it saves a set per instance (and work
    for the garbage collector) without any instance ever seeing another's.
    """
    if not _plain(cls):
        return lambda values: assemble(cls, values)
    every = set(cls.model_fields)
    frozen = bool(cls.model_config.get("frozen"))
    new = object.__new__

    def construct(values: dict[str, Any]) -> M:
        model = new(cls)
        _set_dict(model, values)
        _set_fields_set(model, every if frozen else every.copy())
        _set_extra(model, None)
        _set_private(model, None)
        return model
    return construct


@cache
def _plain(cls: type[BaseModel]) -> bool:
    """Whether :func:`assemble` may skip ``model_construct`` for ``cls``."""
    return (not cls.__pydantic_root_model__ and not cls.__pydantic_post_init__
            and not cls.__private_attributes__ and cls.model_config.get("extra") != "allow"
            and all(field.alias in (None, name) and field.validation_alias in (None, name)
                    for name, field in cls.model_fields.items()))
