"""Legal and operational access: four-eyes legal requests and time-boxed break-glass."""
