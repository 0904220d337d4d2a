"""Free slots computed directly: hours, days off, bookings, buffers, notice, horizon, DST."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from portal.booking.availability import BookingWindow, calendar, free_slots, slots_on
from portal.booking.models import CANCELLED, PENDING
from portal.clock import utcnow
from tests.conftest import NOW
from tests.factories import make_business, make_provider, make_service

BERLIN = ZoneInfo("Europe/Berlin")
#: The day after NOW: an ordinary winter working day (UTC+1).
TUESDAY = date(2026, 3, 3)
#: Sunday 29 March 2026: at 02:00 local the clocks jump to 03:00 (UTC+1 -> UTC+2).
SPRING_FORWARD = date(2026, 3, 29)
#: Sunday 25 October 2026: at 03:00 local the clocks fall back to 02:00 (UTC+2 -> UTC+1).
FALL_BACK = date(2026, 10, 25)
#: A week before FALL_BACK, so that day lies inside the booking horizon.
OCTOBER_NOW = datetime(2026, 10, 18, 6, 0, tzinfo=UTC)
#: The slots of a 30-minute service in 09:00-17:00 with a 30-minute step.
NINE_TO_FIVE = [f"{hour:02d}:{minute:02d}" for hour in range(9, 17) for minute in (0, 30)]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A Berlin wall-clock time as the UTC instant the code works with."""
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN).astimezone(UTC)


def wall_clock(slots) -> list[str]:
    return [slot.start.astimezone(BERLIN).strftime("%H:%M") for slot in slots]


def shop(session, *, business=None, service=None, **provider_options):
    """A Berlin business with one service and one provider (09:00-17:00 every day)."""
    business = make_business(session, **(business or {}))
    service = make_service(session, business, **(service or {}))
    provider = make_provider(session, business, [service], **provider_options)
    return business, service, provider


# Working hours and days off


def test_working_hours_bound_the_first_and_last_slot(session, clock):
    business, service, provider = shop(session)
    slots = slots_on(session, business, service, [provider], TUESDAY, utcnow())
    assert wall_clock(slots) == NINE_TO_FIVE
    assert slots[0].start == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    assert slots[-1].end == local(TUESDAY, 17)
    assert all(slot.end - slot.start == timedelta(minutes=30) for slot in slots)
    assert all(slot.provider_ids == (provider.id,) for slot in slots)


def test_a_slot_must_end_by_closing_time(session, clock):
    business, service, provider = shop(session, service={"duration_minutes": 45})
    slots = slots_on(session, business, service, [provider], TUESDAY, utcnow())
    # 16:30 would end at 17:15, after closing; 16:00 ends at 16:45.
    assert wall_clock(slots)[-1] == "16:00"
    assert slots[-1].end == local(TUESDAY, 16, 45)


def test_a_service_longer_than_the_stretch_has_no_slots(session, clock):
    business, service, provider = shop(
        session,
        service={"duration_minutes": 90},
        hours={TUESDAY.weekday(): [(time(9), time(10))]},
    )
    assert slots_on(session, business, service, [provider], TUESDAY, utcnow()) == []


def test_a_lunch_break_between_two_stretches_has_no_slots(session, clock):
    business, service, provider = shop(
        session, hours={TUESDAY.weekday(): [(time(13), time(15)), (time(9), time(12))]}
    )
    slots = slots_on(session, business, service, [provider], TUESDAY, utcnow())
    assert wall_clock(slots) == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"] + [
        "13:00",
        "13:30",
        "14:00",
        "14:30",
    ]


def test_a_weekday_without_hours_has_no_slots(session, clock):
    weekdays = {weekday: [(time(9), time(17))] for weekday in range(5)}
    business, service, provider = shop(session, hours=weekdays)
    saturday = date(2026, 3, 7)
    assert slots_on(session, business, service, [provider], saturday, utcnow()) == []
    friday = date(2026, 3, 6)
    assert wall_clock(slots_on(session, business, service, [provider], friday, utcnow())) == (
        NINE_TO_FIVE
    )


def test_a_day_off_has_no_slots(session, clock):
    business, service, provider = shop(session, days_off=[TUESDAY])
    assert slots_on(session, business, service, [provider], TUESDAY, utcnow()) == []
    week = free_slots(session, business, service, [provider], TUESDAY, date(2026, 3, 5), utcnow())
    assert sorted(week) == [date(2026, 3, 4), date(2026, 3, 5)]


def test_an_inactive_provider_offers_no_slots(session, clock):
    business, service, provider = shop(session)
    provider.active = False
    assert slots_on(session, business, service, [provider], TUESDAY, utcnow()) == []


# Existing bookings and buffers


def test_a_confirmed_booking_blocks_its_time_and_the_buffer_after_it(session, clock, make_booking):
    business, service, provider = shop(
        session,
        business={"slot_step_minutes": 15},
        service={"duration_minutes": 30, "buffer_minutes": 15},
    )
    make_booking(business=business, service=service, provider=provider, start=local(TUESDAY, 10))
    free = wall_clock(slots_on(session, business, service, [provider], TUESDAY, utcnow()))
    # The booking holds 10:00-10:30 and its buffer 10:30-10:45.
    assert "10:00" not in free
    assert "10:15" not in free
    assert "10:30" not in free
    assert "10:45" in free


def test_a_slot_whose_own_buffer_runs_into_the_next_booking_is_refused(
    session, clock, make_booking
):
    business, service, provider = shop(
        session,
        business={"slot_step_minutes": 15},
        service={"duration_minutes": 30, "buffer_minutes": 15},
    )
    make_booking(business=business, service=service, provider=provider, start=local(TUESDAY, 10))
    free = wall_clock(slots_on(session, business, service, [provider], TUESDAY, utcnow()))
    # 09:15 is busy until 10:00 with its buffer: it just fits.
    assert "09:15" in free
    # 09:30 ends at 10:00, but its buffer would run until 10:15.
    assert "09:30" not in free
    assert "09:45" not in free


def test_the_buffer_of_the_last_slot_may_run_past_closing(session, clock):
    business, service, provider = shop(session, service={"buffer_minutes": 15})
    slots = slots_on(session, business, service, [provider], TUESDAY, utcnow())
    assert wall_clock(slots)[-1] == "16:30"


def test_a_booking_of_the_evening_before_blocks_the_early_morning(session, clock, make_booking):
    # Open around midnight: a 90-minute booking at 23:00 runs until 00:30 the next day.
    business, service, provider = shop(
        session,
        service={"duration_minutes": 90},
        hours={0: [(time(22), time(23, 59))], 1: [(time(0), time(3))]},
    )
    make_booking(
        business=business, service=service, provider=provider, start=local(date(2026, 3, 2), 23)
    )
    slots = slots_on(session, business, service, [provider], TUESDAY, utcnow())
    assert wall_clock(slots) == ["00:30", "01:00", "01:30"]


def test_a_booking_of_another_provider_does_not_block(session, clock, make_booking):
    business, service, alex = shop(session)
    sam = make_provider(session, business, [service], name="Sam")
    make_booking(business=business, service=service, provider=sam, start=local(TUESDAY, 10))
    assert "10:00" in wall_clock(slots_on(session, business, service, [alex], TUESDAY, utcnow()))
    assert "10:00" not in wall_clock(slots_on(session, business, service, [sam], TUESDAY, utcnow()))


def test_a_pending_booking_holds_its_time(session, clock, make_booking):
    business, service, provider = shop(session)
    make_booking(
        business=business,
        service=service,
        provider=provider,
        start=local(TUESDAY, 10),
        status=PENDING,
    )
    free = wall_clock(slots_on(session, business, service, [provider], TUESDAY, utcnow()))
    assert "10:00" not in free


def test_a_cancelled_booking_frees_its_time(session, clock, make_booking):
    business, service, provider = shop(session, service={"buffer_minutes": 30})
    make_booking(
        business=business,
        service=service,
        provider=provider,
        start=local(TUESDAY, 10),
        status=CANCELLED,
    )
    free = wall_clock(slots_on(session, business, service, [provider], TUESDAY, utcnow()))
    assert free == NINE_TO_FIVE


def test_without_bookings_the_offer_ignores_them(session, clock, make_booking):
    business, service, provider = shop(session)
    make_booking(business=business, service=service, provider=provider, start=local(TUESDAY, 10))
    now = utcnow()
    offered = slots_on(session, business, service, [provider], TUESDAY, now, include_bookings=False)
    assert wall_clock(offered) == NINE_TO_FIVE
    assert "10:00" not in wall_clock(slots_on(session, business, service, [provider], TUESDAY, now))


# Minimum notice and maximum days ahead


def test_minimum_notice_hides_slots_too_soon(session, clock):
    business, service, provider = shop(session, business={"min_notice_minutes": 120})
    clock.move_to(local(TUESDAY, 10, 10))
    slots = slots_on(session, business, service, [provider], TUESDAY, utcnow())
    # The earliest bookable instant is 12:10; the next slot on the grid is 12:30.
    assert wall_clock(slots)[0] == "12:30"


def test_a_slot_exactly_at_the_notice_limit_is_offered(session, clock):
    business, service, provider = shop(session, business={"min_notice_minutes": 120})
    clock.move_to(local(TUESDAY, 10, 30))
    slots = slots_on(session, business, service, [provider], TUESDAY, utcnow())
    assert wall_clock(slots)[0] == "12:30"


def test_past_days_have_no_slots(session, clock):
    business, service, provider = shop(session)
    clock.move_to(local(TUESDAY, 8))
    monday = date(2026, 3, 2)
    assert slots_on(session, business, service, [provider], monday, utcnow()) == []
    assert sorted(
        free_slots(session, business, service, [provider], monday, TUESDAY, utcnow())
    ) == [TUESDAY]


def test_maximum_days_ahead_hides_far_days(session, clock):
    business, service, provider = shop(session, business={"max_days_ahead": 30})
    # NOW is Monday 2 March; thirty days ahead is Wednesday 1 April.
    slots = free_slots(
        session, business, service, [provider], date(2026, 3, 30), date(2026, 4, 30), utcnow()
    )
    assert sorted(slots) == [date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 1)]
    assert wall_clock(slots[date(2026, 4, 1)]) == NINE_TO_FIVE
    assert slots_on(session, business, service, [provider], date(2026, 4, 2), utcnow()) == []


def test_booking_window_runs_from_the_notice_to_the_horizon(session, clock):
    business = make_business(session, min_notice_minutes=60, max_days_ahead=2)
    window = BookingWindow.for_business(business, NOW)
    assert window.earliest == NOW + timedelta(hours=1)
    assert window.days() == [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]


def test_booking_window_starts_tomorrow_when_the_notice_crosses_midnight(session, clock):
    business = make_business(session, min_notice_minutes=60, max_days_ahead=0)
    late_evening = local(date(2026, 3, 2), 23, 30)
    window = BookingWindow.for_business(business, late_evening)
    assert window.first_day == TUESDAY
    assert window.last_day == date(2026, 3, 2)
    assert window.days() == []


# Any provider


def test_any_provider_merges_the_providers_free_at_each_time(session, clock, make_booking):
    business, service, alex = shop(session, hours={TUESDAY.weekday(): [(time(9), time(12))]})
    sam = make_provider(
        session, business, [service], name="Sam", hours={TUESDAY.weekday(): [(time(11), time(14))]}
    )
    make_booking(business=business, service=service, provider=sam, start=local(TUESDAY, 11, 30))
    slots = slots_on(session, business, service, [alex, sam], TUESDAY, utcnow())
    times = wall_clock(slots)
    assert times == sorted(set(times)), "one slot per time, however many providers"
    by_time = dict(zip(times, [slot.provider_ids for slot in slots], strict=True))
    assert by_time["09:00"] == (alex.id,)
    assert by_time["11:00"] == (alex.id, sam.id)
    assert by_time["11:30"] == (alex.id,)
    assert by_time["13:30"] == (sam.id,)


def test_a_time_nobody_is_free_for_is_not_offered_to_any_provider(session, clock, make_booking):
    business, service, alex = shop(session)
    sam = make_provider(session, business, [service], name="Sam")
    make_booking(business=business, service=service, provider=alex, start=local(TUESDAY, 10))
    make_booking(business=business, service=service, provider=sam, start=local(TUESDAY, 10))
    free = wall_clock(slots_on(session, business, service, [alex, sam], TUESDAY, utcnow()))
    assert "10:00" not in free
    assert "10:30" in free


# Daylight saving time in Europe/Berlin


def test_spring_forward_day_keeps_local_hours_and_shifts_utc(session, clock):
    business, service, provider = shop(session)
    saturday = slots_on(session, business, service, [provider], date(2026, 3, 28), utcnow())
    sunday = slots_on(session, business, service, [provider], SPRING_FORWARD, utcnow())
    assert wall_clock(saturday) == wall_clock(sunday) == NINE_TO_FIVE
    assert saturday[0].start == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    assert sunday[0].start == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert sunday[-1].end == datetime(2026, 3, 29, 15, 0, tzinfo=UTC)


def test_fall_back_day_keeps_local_hours_and_shifts_utc(session, clock):
    business, service, provider = shop(session)
    clock.move_to(OCTOBER_NOW)
    saturday = slots_on(session, business, service, [provider], date(2026, 10, 24), utcnow())
    sunday = slots_on(session, business, service, [provider], FALL_BACK, utcnow())
    assert wall_clock(saturday) == wall_clock(sunday) == NINE_TO_FIVE
    assert saturday[0].start == datetime(2026, 10, 24, 7, 0, tzinfo=UTC)
    assert sunday[0].start == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    assert sunday[-1].end == datetime(2026, 10, 25, 16, 0, tzinfo=UTC)


def assert_steps_in_absolute_time(slots, opens: datetime, closes: datetime) -> None:
    starts = [slot.start for slot in slots]
    assert starts[0] == opens
    assert len(set(starts)) == len(starts), "no instant is offered twice"
    assert all(b - a == timedelta(minutes=30) for a, b in itertools.pairwise(starts))
    assert all(opens <= slot.start and slot.end <= closes for slot in slots)
    assert slots[-1].end == closes


def test_a_stretch_across_the_spring_forward_night_skips_the_missing_hour(session, clock):
    business, service, provider = shop(
        session, hours={SPRING_FORWARD.weekday(): [(time(1), time(4))]}
    )
    slots = slots_on(session, business, service, [provider], SPRING_FORWARD, utcnow())
    # 01:00 CET is 00:00Z and 04:00 CEST is 02:00Z: two real hours of work.
    assert_steps_in_absolute_time(
        slots,
        opens=datetime(2026, 3, 29, 0, 0, tzinfo=UTC),
        closes=datetime(2026, 3, 29, 2, 0, tzinfo=UTC),
    )
    assert wall_clock(slots) == ["01:00", "01:30", "03:00", "03:30"]


def test_a_stretch_across_the_fall_back_night_offers_the_repeated_hour_once_per_instant(
    session, clock
):
    business, service, provider = shop(session, hours={FALL_BACK.weekday(): [(time(1), time(4))]})
    clock.move_to(OCTOBER_NOW)
    slots = slots_on(session, business, service, [provider], FALL_BACK, utcnow())
    # 01:00 CEST is 23:00Z the evening before and 04:00 CET is 03:00Z: four real hours.
    assert_steps_in_absolute_time(
        slots,
        opens=datetime(2026, 10, 24, 23, 0, tzinfo=UTC),
        closes=datetime(2026, 10, 25, 3, 0, tzinfo=UTC),
    )
    offsets = [slot.start.astimezone(BERLIN).strftime("%H:%M%z") for slot in slots]
    assert offsets == [
        "01:00+0200",
        "01:30+0200",
        "02:00+0200",
        "02:30+0200",
        "02:00+0100",
        "02:30+0100",
        "03:00+0100",
        "03:30+0100",
    ]


def test_a_booking_in_the_repeated_hour_blocks_only_its_own_instant(session, clock, make_booking):
    business, service, provider = shop(session, hours={FALL_BACK.weekday(): [(time(1), time(4))]})
    clock.move_to(OCTOBER_NOW)
    first_two_am = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)  # 02:00 CEST
    make_booking(business=business, service=service, provider=provider, start=first_two_am)
    starts = [
        s.start for s in slots_on(session, business, service, [provider], FALL_BACK, utcnow())
    ]
    assert first_two_am not in starts
    assert datetime(2026, 10, 25, 1, 0, tzinfo=UTC) in starts  # 02:00 CET, an hour later


def test_the_calendar_days_are_exactly_the_days_with_a_free_slot(session, clock, make_booking):
    business, service, provider = shop(session, days_off=[date(2026, 3, 5)])
    # Fill Friday 6 March completely, and leave one free slot on Saturday 7 March.
    for start in NINE_TO_FIVE:
        hour, minute = map(int, start.split(":"))
        make_booking(
            business=business,
            service=service,
            provider=provider,
            start=local(date(2026, 3, 6), hour, minute),
        )
        if start != "16:30":
            make_booking(
                business=business,
                service=service,
                provider=provider,
                start=local(date(2026, 3, 7), hour, minute),
            )
    window = BookingWindow.for_business(business, NOW)

    days, day, slots = calendar(session, business, service, [provider], NOW, date(2026, 3, 7))

    every_slot = free_slots(
        session, business, service, [provider], window.first_day, window.last_day, NOW
    )
    assert days == set(every_slot)
    assert date(2026, 3, 5) not in days  # day off
    assert date(2026, 3, 6) not in days  # fully booked
    assert date(2026, 3, 7) in days  # one slot left
    assert (day, wall_clock(slots)) == (date(2026, 3, 7), ["16:30"])


def test_the_calendar_shows_the_first_free_day_when_none_is_chosen(session, clock):
    business, service, provider = shop(session)
    days, day, slots = calendar(session, business, service, [provider], NOW, None)
    assert day == min(days)
    assert slots == slots_on(session, business, service, [provider], day, NOW)
