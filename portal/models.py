"""Imports every feature's models so the metadata is complete (for Alembic)."""

from portal.accounts.models import (
    ClientAccount,
    OneTimeToken,
    RecoveryCode,
    SecuritySettings,
    StaffUser,
    UserSession,
)
from portal.audit.models import AuditCheckpoint, AuditEvent
from portal.booking.models import Booking, BookingConsent, BookingEvent, BookingReminder
from portal.branding.models import BusinessLogo
from portal.businesses.models import Business
from portal.catalog.models import DayOff, Provider, Service, ServiceTranslation, WorkingHours
from portal.clients.models import Client
from portal.db import Base
from portal.features import BusinessFeature
from portal.giftcards.models import GiftCard, GiftCardEntry, GiftCardRedemption, GiftCardSettings
from portal.hipaa.models import ComplianceSettings
from portal.mail.models import OutboxMessage
from portal.policies.models import (
    CancellationPolicyVersion,
    PolicyTranslation,
    TermsTranslation,
    TermsVersion,
)
from portal.retention.models import RetentionSettings
from portal.support.models import SupportUser

__all__ = [
    "AuditCheckpoint",
    "AuditEvent",
    "ComplianceSettings",
    "SupportUser",
    "ClientAccount",
    "OneTimeToken",
    "RecoveryCode",
    "SecuritySettings",
    "UserSession",
    "Base",
    "Booking",
    "BusinessLogo",
    "BookingReminder",
    "OutboxMessage",
    "BookingConsent",
    "BookingEvent",
    "Business",
    "BusinessFeature",
    "CancellationPolicyVersion",
    "Client",
    "DayOff",
    "GiftCard",
    "GiftCardRedemption",
    "GiftCardEntry",
    "GiftCardSettings",
    "Provider",
    "RetentionSettings",
    "Service",
    "ServiceTranslation",
    "PolicyTranslation",
    "TermsTranslation",
    "StaffUser",
    "TermsVersion",
    "WorkingHours",
]
