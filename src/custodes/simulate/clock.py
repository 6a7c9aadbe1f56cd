"""Simulated time: microseconds since the epoch (int64), the unit of every timestamp column."""

from __future__ import annotations


from typing import overload

import numpy as np
import pyarrow as pa

from custodes import contract
from custodes.timefmt import from_epoch_us, iso

US = 1_000_000
MINUTE = 60 * US
HOUR = 3600 * US
DAY = 86_400 * US
#: Customers live in Korea (UTC+9): their evening peak is around noon UTC.
LOCAL_OFFSET_HOURS = 9

#: Relative activity per local hour of day (KST), 0..23: quiet nights, an evening peak.
DIURNAL_LOCAL = np.array([
    2.2, 1.3, 0.8, 0.5, 0.4, 0.5, 0.9, 1.8, 3.0, 3.6, 4.0, 4.3,
    4.8, 4.6, 4.4, 4.3, 4.4, 4.7, 5.2, 6.0, 6.8, 7.2, 6.4, 4.2,
])
#: The same curve indexed by UTC hour.
DIURNAL_UTC = np.roll(DIURNAL_LOCAL, -LOCAL_OFFSET_HOURS)


@overload
def rfc3339(value: int) -> str: ...
@overload
def rfc3339(value: None) -> None: ...


def rfc3339(value: int | None) -> str | None:
    return None if value is None else iso(from_epoch_us(value))


def timestamps(values: np.ndarray) -> pa.Array:
    """int64 microseconds as the contract's timestamp type, without a copy."""
    return pa.array(np.asarray(values, dtype=np.int64)).view(contract.TIMESTAMP)


def diurnal_offsets(rng: np.random.Generator, n: int, curve: np.ndarray = DIURNAL_UTC) -> np.ndarray:
    """n offsets (µs into a UTC day) following an hourly activity curve, uniform within the hour."""
    hours = rng.choice(24, size=n, p=curve / curve.sum())
    return hours.astype(np.int64) * HOUR + (rng.random(n) * HOUR).astype(np.int64)


def weekday(day_start_us: int) -> int:
    return from_epoch_us(day_start_us).weekday()
