"""Imports every feature's models so the metadata is complete (for Alembic)."""

from portal.accounts.models import StaffUser
from portal.booking.models import Booking, BookingConsent, Client
from portal.businesses.models import Business
from portal.catalog.models import DayOff, Provider, Service, WorkingHours
from portal.db import Base
from portal.policies.models import CancellationPolicyVersion, TermsVersion

__all__ = [
    "Base",
    "Booking",
    "BookingConsent",
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
