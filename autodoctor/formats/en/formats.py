"""Date formats for English: a date-time always carries its zone's abbreviation
(invariant 3), e.g. in the admin's lists: "Dec. 1, 2026, 10 a.m. EST". Times are shown in
the viewer's zone (web.middleware.ViewerTimeZoneMiddleware)."""

DATETIME_FORMAT = "N j, Y, P T"
SHORT_DATETIME_FORMAT = "m/d/Y P T"
