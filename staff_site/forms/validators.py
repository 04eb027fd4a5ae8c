"""Validators the staff forms share.

:class:`NumberRange` is WTForms' own, refusing first a whole number no database column can
hold. WTForms' validator calls ``math.isnan`` on the value, which raises ``OverflowError`` for an
``int`` beyond a float's range: a number typed with a few hundred digits was a 500 (found by
``tests/hostile``). Every integer field of the staff site is a PostgreSQL ``integer`` at most
(ids, days, counts, years, pages), so anything past ±(2³¹ − 1) is refused as not a valid
whole number before the range is checked.
"""

from __future__ import annotations

from typing import Any

from wtforms import validators
from wtforms.validators import ValidationError

#: PostgreSQL's ``integer``: the widest column an integer field of the staff site fills.
INT_MAX = 2**31 - 1


class NumberRange(validators.NumberRange):
    """``wtforms.validators.NumberRange`` that refuses a whole number outside ±INT_MAX."""

    def __call__(self, form: Any, field: Any) -> None:
        data = field.data
        if isinstance(data, int) and not isinstance(data, bool) and not -INT_MAX <= data <= INT_MAX:
            raise ValidationError(field.gettext("Not a valid integer value."))
        super().__call__(form, field)
