"""Timestamps as logged (syslog without a year, ISO 8601, Apache's) into seconds since the epoch.

Conversions are cached per distinct second: a busy log repeats the same second thousands of
times, and `datetime` arithmetic would otherwise be a visible share of the decoding time.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone, tzinfo

MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_CACHE_LIMIT = 200_000
_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|z|[+-]\d\d:?\d\d)?")


def _local_epoch(year: int, month: int, day: int, hh: int, mm: int, ss: int,
                 tz: tzinfo | None) -> float:
    if tz is None:  # the host's local time, as syslog daemons write it
        return time.mktime((year, month, day, hh, mm, ss, 0, 0, -1))
    return datetime(year, month, day, hh, mm, ss, tzinfo=tz).timestamp()


class SyslogClock:
    """RFC 3164 timestamps (`Feb  5 14:34:10`, no year, local time) to epoch seconds.

    The year is the reference time's (the file's modification time, or now), moved back one
    year for dates more than two days after the reference (December lines read in January)
    and forward one for dates more than 300 days before it (a long-running reader crossing
    New Year).
    """

    def __init__(self, reference: float | None = None, tz: tzinfo | None = None) -> None:
        self.reference = reference if reference is not None else time.time()
        self.tz = tz
        self.year = datetime.fromtimestamp(self.reference, tz).year
        self._cache: dict[str, float | None] = {}

    def epoch(self, stamp: str) -> float | None:
        """`Mmm dd hh:mm:ss` to epoch seconds, or None when it is not a valid date."""
        # Cached per hour (a log has few hours, but nearly one distinct second per line);
        # daylight-saving changes happen on the hour, so minutes and seconds just add up.
        base = self._cache.get(stamp[:9], -1.0)
        if base == -1.0:
            base = self._hour(stamp)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[stamp[:9]] = base
        if base is None:
            return None
        try:
            return base + int(stamp[10:12]) * 60 + int(stamp[13:15])
        except ValueError:
            return None

    def _hour(self, stamp: str) -> float | None:
        try:
            month = MONTHS[stamp[:3]]
            day, hh = int(stamp[4:6]), int(stamp[7:9])
            value = _local_epoch(self.year, month, day, hh, 0, 0, self.tz)
            if value > self.reference + 2 * 86400:
                value = _local_epoch(self.year - 1, month, day, hh, 0, 0, self.tz)
            elif value < self.reference - 300 * 86400:
                value = _local_epoch(self.year + 1, month, day, hh, 0, 0, self.tz)
            return value
        except (KeyError, ValueError, OverflowError):
            return None


class IsoClock:
    """ISO 8601 / RFC 3339 timestamps to epoch seconds (naive ones in local time)."""

    def __init__(self, tz: tzinfo | None = None) -> None:
        self.tz = tz
        self._cache: dict[tuple[str, str | None], float | None] = {}

    def epoch(self, stamp: str) -> float | None:
        """Epoch seconds, or None when `stamp` does not start with an ISO 8601 date-time."""
        match = _ISO.match(stamp)
        if match is None:
            return None
        key = (match.string[match.start(1):match.end(4)], match.group(8))  # per hour
        base = self._cache.get(key, -1.0)
        if base == -1.0:
            base = self._convert(match)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = base
        if base is None:
            return None
        value = base + int(match.group(5)) * 60 + int(match.group(6))
        fraction = match.group(7)
        return value + float(fraction) if fraction else value

    def _convert(self, match: re.Match[str]) -> float | None:
        y, mo, d, hh = (int(match.group(i)) for i in range(1, 5))
        offset = match.group(8)
        try:
            if offset is None:
                return _local_epoch(y, mo, d, hh, 0, 0, self.tz)
            if offset in ("Z", "z"):
                return datetime(y, mo, d, hh, tzinfo=UTC).timestamp()
            return datetime(y, mo, d, hh, tzinfo=_offset(offset)).timestamp()
        except (ValueError, OverflowError):
            return None


def _offset(text: str) -> timezone:
    """`+02:00`, `-0700` as a fixed-offset zone."""
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


class ApacheClock:
    """Apache/nginx `%t` (`10/Oct/2000:13:55:36 -0700`) to epoch seconds."""

    def __init__(self) -> None:
        self._cache: dict[str, float | None] = {}

    def epoch(self, stamp: str) -> float | None:
        """Epoch seconds, or None when malformed."""
        key = stamp[:14] + stamp[20:]  # `10/Oct/2000:13` and the offset: cached per hour
        base = self._cache.get(key, -1.0)
        if base == -1.0:
            try:
                day, month, year = int(stamp[0:2]), MONTHS[stamp[3:6]], int(stamp[7:11])
                base = datetime(year, month, day, int(stamp[12:14]),
                                tzinfo=_offset(stamp[21:26])).timestamp()
            except (KeyError, ValueError, IndexError, OverflowError):
                base = None
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = base
        if base is None or stamp[14:15] != ":" or stamp[17:18] != ":":
            return None
        try:
            return base + int(stamp[15:17]) * 60 + int(stamp[18:20])
        except ValueError:
            return None
