"""Services, providers, their weekly hours and days off."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base

provider_services = Table(
    "provider_services",
    Base.metadata,
    Column("provider_id", ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
)


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("duration_minutes > 0 AND duration_minutes <= 720", name="duration"),
        CheckConstraint("buffer_minutes >= 0 AND buffer_minutes <= 240", name="buffer"),
        CheckConstraint("price_cents >= 0", name="price"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    providers: Mapped[list[Provider]] = relationship(
        secondary=provider_services, back_populates="services", order_by="Provider.id"
    )
    #: The owner's name and description in the business's other language
    #: (``portal.web.owner_texts``); loaded lazily, only for a page in that language.
    translations: Mapped[list[ServiceTranslation]] = relationship(
        back_populates="service", cascade="all, delete-orphan", order_by="ServiceTranslation.locale"
    )


class ServiceTranslation(Base):
    """A service's name and description in one language other than the business's own.

    The service row keeps the original (the business's language); staff pages show it.
    """

    __tablename__ = "service_translations"
    __table_args__ = (UniqueConstraint("service_id", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    locale: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")

    service: Mapped[Service] = relationship(back_populates="translations")


class Provider(Base):
    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The staff member who is this provider: they get its booking news and agenda.
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )

    services: Mapped[list[Service]] = relationship(
        secondary=provider_services, back_populates="providers"
    )
    working_hours: Mapped[list[WorkingHours]] = relationship(
        back_populates="provider", cascade="all, delete-orphan", order_by="WorkingHours.weekday"
    )
    days_off: Mapped[list[DayOff]] = relationship(
        back_populates="provider", cascade="all, delete-orphan", order_by="DayOff.day"
    )


class WorkingHours(Base):
    """One stretch of work on a weekday (0 = Monday), in the business's wall-clock time."""

    __tablename__ = "working_hours"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday"),
        CheckConstraint("starts < ends", name="order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(Integer)
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)

    provider: Mapped[Provider] = relationship(back_populates="working_hours")


class DayOff(Base):
    __tablename__ = "days_off"
    __table_args__ = (UniqueConstraint("provider_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")

    provider: Mapped[Provider] = relationship(back_populates="days_off")
