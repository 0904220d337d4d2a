"""Imports every feature's models so the metadata is complete (for Alembic)."""

from portal.accounts.models import (
    ClientAccount,
    OneTimeToken,
    RecoveryCode,
    SecuritySettings,
    StaffUser,
    UserSession,
)
from portal.audit.models import AuditEvent
from portal.booking.models import Booking, BookingConsent, BookingEvent, Client
from portal.businesses.models import Business
from portal.catalog.models import DayOff, Provider, Service, WorkingHours
from portal.db import Base
from portal.policies.models import CancellationPolicyVersion, TermsVersion

__all__ = [
    "AuditEvent",
    "ClientAccount",
    "OneTimeToken",
    "RecoveryCode",
    "SecuritySettings",
    "UserSession",
    "Base",
    "Booking",
    "BookingConsent",
    "BookingEvent",
    "Business",
    "CancellationPolicyVersion",
    "Client",
    "DayOff",
    "Provider",
    "Service",
    "StaffUser",
    "TermsVersion",
    "WorkingHours",
]
