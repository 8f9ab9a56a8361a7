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
        cached = self._cache.get(stamp, -1.0)
        if cached != -1.0:
            return cached
        value = self._convert(stamp)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[stamp] = value
        return value

    def _convert(self, stamp: str) -> float | None:
        try:
            month = MONTHS[stamp[:3]]
            day = int(stamp[4:6])
            hh, mm, ss = int(stamp[7:9]), int(stamp[10:12]), int(stamp[13:15])
            value = _local_epoch(self.year, month, day, hh, mm, ss, self.tz)
            if value > self.reference + 2 * 86400:
                value = _local_epoch(self.year - 1, month, day, hh, mm, ss, self.tz)
            elif value < self.reference - 300 * 86400:
                value = _local_epoch(self.year + 1, month, day, hh, mm, ss, self.tz)
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
        key = (match.string[match.start(1):match.end(6)], match.group(8))
        base = self._cache.get(key, -1.0)
        if base == -1.0:
            base = self._convert(match)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = base
        if base is None:
            return None
        fraction = match.group(7)
        return base + float(fraction) if fraction else base

    def _convert(self, match: re.Match[str]) -> float | None:
        y, mo, d, hh, mm, ss = (int(match.group(i)) for i in range(1, 7))
        offset = match.group(8)
        try:
            if offset is None:
                return _local_epoch(y, mo, d, hh, mm, ss, self.tz)
            if offset in ("Z", "z"):
                return datetime(y, mo, d, hh, mm, ss, tzinfo=UTC).timestamp()
            sign = -1 if offset[0] == "-" else 1
            digits = offset[1:].replace(":", "")
            delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            return datetime(y, mo, d, hh, mm, ss, tzinfo=timezone(sign * delta)).timestamp()
        except (ValueError, OverflowError):
            return None


class ApacheClock:
    """Apache/nginx `%t` (`10/Oct/2000:13:55:36 -0700`) to epoch seconds."""

    def __init__(self) -> None:
        self._cache: dict[str, float | None] = {}

    def epoch(self, stamp: str) -> float | None:
        """Epoch seconds, or None when malformed."""
        value = self._cache.get(stamp, -1.0)
        if value != -1.0:
            return value
        try:
            day, month, year = int(stamp[0:2]), MONTHS[stamp[3:6]], int(stamp[7:11])
            hh, mm, ss = int(stamp[12:14]), int(stamp[15:17]), int(stamp[18:20])
            offset = stamp[21:26]
            sign = -1 if offset[:1] == "-" else 1
            delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
            value = datetime(year, month, day, hh, mm, ss,
                             tzinfo=timezone(sign * delta)).timestamp()
        except (KeyError, ValueError, IndexError, OverflowError):
            value = None
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[stamp] = value
        return value
