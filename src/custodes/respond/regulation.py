"""What the law asks after a personal-data breach, as data: deadlines, thresholds, fine ceilings.

Korea's PIPA (Personal Information Protection Act, Art. 34 and 64-2; Enforcement Decree Art. 39-40)
and the EU GDPR (Art. 33, 34 and 83). Deadlines count from discovery: the data time at which
custodes first detected the incident. Fine exposure is a ceiling computed from figures the operator
sets in custodes.yaml; custodes says plainly when they are not set and never invents them.

This is decision support for the operator's privacy officer and counsel, not legal advice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from custodes.errors import CustodesError

HOURS_72 = dt.timedelta(hours=72)

#: PIPA: a report to the PIPC or KISA is due within 72 hours when at least this many people are affected
PIPA_REPORT_THRESHOLD = 1000
#: PIPA: unique identifiers whose leak makes the report due whatever the count
PIPA_UNIQUE_IDENTIFIERS = frozenset({"national_id", "passport_number", "driver_license", "alien_registration"})
#: items whose exposure we treat as indicating high risk to the people affected (GDPR Art. 34)
HIGH_RISK_ITEMS = frozenset({"national_id", "payment", "entrance_code", "address", "birth_date"})

PIPA_FINE_RATE = 0.03
GDPR_FINE_RATE = 0.04
GDPR_FINE_FIXED_EUR = 20_000_000

#: custodes.yaml keys this module reads (documented in docs/respond.md)
CONFIG_KEYS = {
    "pipa_revenue": "respond.fines.pipa_relevant_revenue_krw",
    "gdpr_turnover": "respond.fines.gdpr_worldwide_turnover_eur",
    "gdpr_applies": "respond.gdpr.applies",
}


@dataclass(frozen=True)
class Duty:
    regime: str          # "PIPA" | "GDPR"
    who: str             # to whom
    article: str
    required: bool
    due: dt.datetime | None
    why: str


@dataclass(frozen=True)
class FineExposure:
    regime: str
    ceiling: float | None
    currency: str
    basis: str
    configured: bool


@dataclass
class Assessment:
    discovered_at: dt.datetime
    subjects: int
    items: list[str]
    duties: list[Duty] = field(default_factory=list)
    fines: list[FineExposure] = field(default_factory=list)
    gdpr_applies: bool | None = None

    def to_json(self) -> dict:
        return {
            "discovered_at": self.discovered_at, "subjects": self.subjects, "items": self.items,
            "gdpr_applies": self.gdpr_applies,
            "duties": [d.__dict__ for d in self.duties], "fines": [f.__dict__ for f in self.fines],
        }


def assess(subjects: int, items: list[str], discovered_at: dt.datetime, settings) -> Assessment:
    """``settings(dotted_key, default)`` reads the operator's configuration (Workspace.setting)."""
    gdpr_applies = settings(CONFIG_KEYS["gdpr_applies"], None)
    out = Assessment(discovered_at, subjects, list(items), gdpr_applies=gdpr_applies)
    out.duties = pipa_duties(subjects, items, discovered_at) + gdpr_duties(items, discovered_at, gdpr_applies)
    out.fines = [pipa_fine(settings), gdpr_fine(settings)]
    return out


def pipa_duties(subjects: int, items: list[str], discovered_at: dt.datetime) -> list[Duty]:
    due = discovered_at + HOURS_72
    unique = sorted(PIPA_UNIQUE_IDENTIFIERS & set(items))
    reasons = []
    if subjects >= PIPA_REPORT_THRESHOLD:
        reasons.append(f"{subjects:,} data subjects affected (threshold {PIPA_REPORT_THRESHOLD:,})")
    if unique:
        reasons.append(f"unique identifiers leaked ({', '.join(unique)})")
    report_why = "; ".join(reasons) if reasons else (
        f"{subjects:,} data subjects is below the {PIPA_REPORT_THRESHOLD:,} threshold and no unique identifier "
        "leaked; a report is still required if the leak came from unlawful outside access (hacking): confirm")
    return [
        Duty("PIPA", "data subjects", "PIPA Art. 34(1); Enforcement Decree Art. 39", True, due,
             "notify every affected person without delay, within 72 hours of discovery"),
        Duty("PIPA", "PIPC or KISA", "PIPA Art. 34(3); Enforcement Decree Art. 40", bool(reasons), due, report_why),
    ]


def gdpr_duties(items: list[str], discovered_at: dt.datetime, applies: bool | None) -> list[Duty]:
    if applies is False:
        return []
    scope_note = "" if applies else " (if GDPR applies: set respond.gdpr.applies in custodes.yaml)"
    high = sorted(HIGH_RISK_ITEMS & set(items))
    return [
        Duty("GDPR", "supervisory authority", "GDPR Art. 33", True, discovered_at + HOURS_72,
             "without undue delay and, where feasible, within 72 hours of becoming aware" + scope_note),
        Duty("GDPR", "data subjects", "GDPR Art. 34", bool(high), None,
             ("likely high risk: " + ", ".join(high) + " exposed; communicate without undue delay" + scope_note)
             if high else "no high-risk item exposed; assess whether the breach is likely to result in high risk"),
    ]


def _figure(settings, key: str) -> float | None:
    value = settings(key, None)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CustodesError(f"custodes.yaml: {key} must be a number, not {value!r}") from None
    if number < 0:
        raise CustodesError(f"custodes.yaml: {key} must not be negative")
    return number


def pipa_fine(settings) -> FineExposure:
    key = CONFIG_KEYS["pipa_revenue"]
    revenue = _figure(settings, key)
    if revenue is None:
        return FineExposure("PIPA", None, "KRW", f"up to 3% of relevant revenue; {key} is not set", False)
    return FineExposure("PIPA", revenue * PIPA_FINE_RATE, "KRW",
                        f"3% of relevant revenue {revenue:,.0f} KRW (PIPA Art. 64-2)", True)


def gdpr_fine(settings) -> FineExposure:
    key = CONFIG_KEYS["gdpr_turnover"]
    turnover = _figure(settings, key)
    if turnover is None:
        return FineExposure("GDPR", GDPR_FINE_FIXED_EUR, "EUR",
                            f"at least EUR 20,000,000, or 4% of worldwide annual turnover if higher; {key} is not set",
                            False)
    ceiling = max(GDPR_FINE_FIXED_EUR, turnover * GDPR_FINE_RATE)
    return FineExposure("GDPR", ceiling, "EUR",
                        f"higher of EUR 20,000,000 and 4% of worldwide turnover {turnover:,.0f} EUR (GDPR Art. 83(5))",
                        True)
