"""Date formats for Canadian French: like English, a date-time always carries its zone's
abbreviation (invariant 3), e.g. "1 décembre 2026, 10:00 EST"."""

DATE_FORMAT = "j F Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j F Y, H:i T"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "\xa0"
