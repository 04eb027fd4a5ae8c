"""Registry services, one module per noun: :mod:`~registry.services.divisions` and
:mod:`~registry.services.facilities`. Everything callers use is re-exported here, so
``from registry.services import load_default_divisions`` keeps working."""

from __future__ import annotations

from registry.services.divisions import (
    CODE_LENGTH,
    MANAGEMENT_AREA_MAX,
    NAME_EN_MAX,
    NAME_MAX,
    NAME_MIN,
    SORT_ORDER_MAX,
    DivisionData,
    can_edit_divisions,
    create_division,
    default_divisions,
    get_division,
    list_divisions,
    load_default_divisions,
    update_division,
)
from registry.services.facilities import (
    SEARCH_LIMIT,
    SEARCH_MAX,
    FacilityHit,
    demo_facilities,
    facility_exists,
    get_facility_hit,
    load_demo_facilities,
    search_facilities,
)

__all__ = [
    "CODE_LENGTH",
    "MANAGEMENT_AREA_MAX",
    "NAME_EN_MAX",
    "NAME_MAX",
    "NAME_MIN",
    "SEARCH_LIMIT",
    "SEARCH_MAX",
    "SORT_ORDER_MAX",
    "DivisionData",
    "FacilityHit",
    "can_edit_divisions",
    "create_division",
    "default_divisions",
    "demo_facilities",
    "facility_exists",
    "get_division",
    "get_facility_hit",
    "list_divisions",
    "load_default_divisions",
    "load_demo_facilities",
    "search_facilities",
    "update_division",
]
