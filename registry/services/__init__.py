"""Registry services, one module per noun: :mod:`~registry.services.divisions`,
:mod:`~registry.services.facility_types`, :mod:`~registry.services.facilities` (reading and
search), :mod:`~registry.services.editing` (changes and history),
:mod:`~registry.services.imports` and :mod:`~registry.services.exports` (spreadsheets),
:mod:`~registry.services.overview` (a facility's tips, cases and overdue items) and
:mod:`~registry.services.access` (who may read and write). What most callers use is
re-exported here, so ``from registry.services import load_default_divisions`` keeps working.
"""

from __future__ import annotations

from registry.services.access import (
    can_read_division,
    can_read_registry,
    can_write_division,
    can_write_registry,
)
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
    FacilityFilters,
    FacilityHit,
    FacilityPage,
    demo_facilities,
    facility_exists,
    get_facility_for,
    get_facility_hit,
    list_facilities,
    load_demo_facilities,
    search_facilities,
)
from registry.services.facility_types import (
    FacilityTypeData,
    can_edit_facility_types,
    create_facility_type,
    default_facility_types,
    get_facility_type,
    list_facility_types,
    load_default_facility_types,
    update_facility_type,
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
    "FacilityFilters",
    "FacilityHit",
    "FacilityPage",
    "FacilityTypeData",
    "can_edit_divisions",
    "can_edit_facility_types",
    "can_read_division",
    "can_read_registry",
    "can_write_division",
    "can_write_registry",
    "create_division",
    "create_facility_type",
    "default_divisions",
    "default_facility_types",
    "demo_facilities",
    "facility_exists",
    "get_division",
    "get_facility_for",
    "get_facility_hit",
    "get_facility_type",
    "list_divisions",
    "list_facilities",
    "list_facility_types",
    "load_default_divisions",
    "load_default_facility_types",
    "load_demo_facilities",
    "search_facilities",
    "update_division",
    "update_facility_type",
]
