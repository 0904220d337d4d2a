"""Bookings and calendar for staff: dashboard, day and week views, staff actions on bookings."""
