"""Declarative base, naming convention and the reusable column types."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

from sqlalchemy import BigInteger, DateTime, Enum, Integer, MetaData, String, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    Naive datetimes are refused: every time in the service comes from the clock, which is UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {dt.datetime: UTCDateTime()}


# Reusable column types.
IntPK = Annotated[int, mapped_column(Integer, primary_key=True)]
Timestamp = Annotated[dt.datetime, mapped_column(UTCDateTime())]
Fen = Annotated[int, mapped_column(BigInteger)]  # money: integer fen (分), never floats
Str40 = Annotated[str, mapped_column(String(40))]
Str100 = Annotated[str, mapped_column(String(100))]
Str200 = Annotated[str, mapped_column(String(200))]


def enum_values(enum_cls: type[Any]) -> list[str]:
    """Values of a str Enum, for ``Enum(..., native_enum=False, values_callable=...)``."""
    return [member.value for member in enum_cls]


def str_enum(cls: type[enum.StrEnum], name: str, length: int = 30) -> Enum:
    """A str enum stored as VARCHAR with a CHECK constraint (same on SQLite and PostgreSQL).

    Adding a member later is a model change plus a migration that replaces the CHECK
    constraint ``ck_<table>_<name>``; the column is wide enough for the names to come.
    """
    return Enum(
        cls,
        native_enum=False,
        length=length,
        values_callable=enum_values,
        name=name,
        create_constraint=True,
        validate_strings=True,
    )
