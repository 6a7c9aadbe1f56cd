"""What the law asks after a personal-data breach, as data: deadlines, thresholds, fine ceilings.

Korea's PIPA (개인정보 보호법 Art. 34 and 64-2; 시행령 Art. 39 and 40) and the EU GDPR (Art. 33,
34 and 83), as docs/respond.md cites them. Deadlines count from discovery: the time the operator
gives (``--discovered-at``), else, provisionally, the data time at which custodes first detected
the incident. Fine exposure is a ceiling computed from figures the operator sets in custodes.yaml;
custodes says plainly when they are not set and never invents them.

Reasons and bases are codes with parameters, not prose: the documents say them in Korean or
English from the message catalogues (:mod:`custodes.respond.i18n`).

This is decision support for the operator's privacy officer and counsel, not legal advice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

HOURS_72 = dt.timedelta(hours=72)
#: 시행령 Art. 39(3): a notice posted on the website instead of a letter stays up this long
POSTING_DAYS = 30

#: 시행령 Art. 40(1) 1: a report is due when at least this many people are affected
PIPA_REPORT_THRESHOLD = 1000
#: 고유식별정보 (PIPA Art. 24): their leak makes the report due whatever the count (시행령 Art. 40(1) 2)
PIPA_UNIQUE_IDENTIFIERS = frozenset({"national_id", "passport_number", "driver_license", "alien_registration"})
#: 민감정보 (PIPA Art. 23, 시행령 Art. 18), as an operator's catalog may name them
PIPA_SENSITIVE = frozenset({"health", "biometric", "genetic", "political_opinion", "religion", "sexual_life",
                            "criminal_record", "union_membership", "race_ethnicity"})
#: items whose exposure we treat as indicating high risk to the people affected (GDPR Art. 34)
HIGH_RISK_ITEMS = frozenset({"national_id", "payment", "entrance_code", "address", "birth_date"}) | PIPA_SENSITIVE
#: detections that mean the data was reached from outside: forged or stale tokens, departed staff's
#: credentials, unknown networks (시행령 Art. 40(1) 3: 외부로부터의 불법적인 접근)
EXTERNAL_RULES = frozenset({
    "token.unissued", "token.claims_mismatch", "token.retired_key", "token.expired_use", "key.departed_custodian",
    "credential.after_termination", "credential.departed_still_valid", "credential.after_revocation",
    "source.many_accounts", "source.low_and_slow", "account.new_origin",
})

PIPA_FINE_RATE = 0.03                 # Art. 64-2(1)
PIPA_FINE_RATE_AGGRAVATED = 0.10      # Art. 64-2(2)
PIPA_FINE_NO_REVENUE_KRW = 2_000_000_000
PIPA_FINE_NO_REVENUE_AGGRAVATED_KRW = 5_000_000_000
#: GDPR Art. 83(4) and (5): (fixed EUR, share of worldwide annual turnover), the higher applies
GDPR_CEILINGS = {"83(4)": (10_000_000, 0.02), "83(5)": (20_000_000, 0.04)}


@dataclass(frozen=True)
class Duty:
    regime: str                 # "PIPA" | "GDPR"
    code: str                   # pipa_notice, pipa_report, pipa_posting, gdpr_authority, gdpr_subjects
    article: str
    required: bool | None       # None: custodes cannot tell; the document says what to confirm
    due: dt.datetime | None     # None: "without undue delay", no fixed hour
    reasons: tuple[tuple[str, dict], ...] = ()   # (catalogue code, slots)
    until: dt.datetime | None = None             # a posting's earliest end

    def to_json(self) -> dict:
        return dict(asdict(self), reasons=[{"code": c, **p} for c, p in self.reasons])


@dataclass(frozen=True)
class FineExposure:
    regime: str
    code: str                   # pipa, pipa_aggravated, gdpr_83_4, gdpr_83_5
    article: str
    ceiling: float | None       # None: the figures it needs are not configured
    currency: str
    rate: float
    fixed: float | None         # GDPR's fixed ceiling; PIPA's when there is no revenue
    base: float | None          # the configured revenue or turnover the rate applies to
    configured: bool

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Assessment:
    discovered_at: dt.datetime
    discovered_given: bool       # False: provisional, from the first detection in data time
    subjects: int
    items: list[str]
    external: bool
    unreachable: int | None      # affected people without e-mail or phone (None: no directory)
    gdpr_applies: bool | None
    duties: list[Duty] = field(default_factory=list)
    fines: list[FineExposure] = field(default_factory=list)

    def duty(self, code: str) -> Duty | None:
        return next((d for d in self.duties if d.code == code), None)

    def to_json(self) -> dict:
        return {
            "discovered_at": self.discovered_at, "discovered_given": self.discovered_given,
            "subjects": self.subjects, "items": self.items, "external_access": self.external,
            "unreachable_subjects": self.unreachable, "gdpr_applies": self.gdpr_applies,
            "duties": [d.to_json() for d in self.duties], "fines": [f.to_json() for f in self.fines],
        }


def assess(subjects: int, items: list[str], discovered_at: dt.datetime, config, rule_ids=(),
           discovered_given: bool = True, unreachable: int | None = None) -> Assessment:
    """``config``: the workspace's :class:`custodes.respond.settings.RespondConfig`."""
    external = bool(EXTERNAL_RULES & set(rule_ids))
    out = Assessment(discovered_at, discovered_given, subjects, list(items), external, unreachable,
                     config.gdpr.applies)
    out.duties = pipa_duties(out) + gdpr_duties(out)
    out.fines = pipa_fines(config.fines) + (gdpr_fines(config.fines) if config.gdpr.applies is not False else [])
    return out


def pipa_duties(a: Assessment) -> list[Duty]:
    due = a.discovered_at + HOURS_72
    reasons = []
    if a.subjects >= PIPA_REPORT_THRESHOLD:
        reasons.append(("report_threshold", {"subjects": a.subjects, "threshold": PIPA_REPORT_THRESHOLD}))
    special = sorted((PIPA_UNIQUE_IDENTIFIERS | PIPA_SENSITIVE) & set(a.items))
    if special:
        reasons.append(("report_special_items", {"items": special}))
    if a.external:
        reasons.append(("report_external", {}))
    if not reasons:
        reasons.append(("report_below_threshold", {"subjects": a.subjects, "threshold": PIPA_REPORT_THRESHOLD}))
    duties = [
        Duty("PIPA", "pipa_notice", "PIPA Art. 34(1); 시행령 Art. 39(1)", True, due, (("notice_72h", {}),)),
        Duty("PIPA", "pipa_report", "PIPA Art. 34(4); 시행령 Art. 40(1)", True if reasons[0][0] != "report_below_threshold"
             else None, due, tuple(reasons)),
    ]
    if a.unreachable is None:
        posting = (None, (("posting_unknown", {}),))
    elif a.unreachable:
        posting = (True, (("posting_unreachable", {"unreachable": a.unreachable, "days": POSTING_DAYS}),))
    else:
        posting = (False, (("posting_not_needed", {}),))
    duties.append(Duty("PIPA", "pipa_posting", "시행령 Art. 39(3)", posting[0], due, posting[1],
                       until=due + dt.timedelta(days=POSTING_DAYS)))
    return duties


def gdpr_duties(a: Assessment) -> list[Duty]:
    if a.gdpr_applies is False:
        return []
    scope = () if a.gdpr_applies else (("gdpr_if_applies", {}),)
    high = sorted(HIGH_RISK_ITEMS & set(a.items))
    subjects = (("high_risk_items", {"items": high}),) if high else (("no_high_risk_item", {}),)
    return [
        Duty("GDPR", "gdpr_authority", "GDPR Art. 33(1)", True, a.discovered_at + HOURS_72,
             (("authority_72h", {}),) + scope),
        Duty("GDPR", "gdpr_subjects", "GDPR Art. 34(1)", True if high else None, None, subjects + scope),
    ]


def pipa_fines(fines) -> list[FineExposure]:
    base = fines.pipa_base()
    out = []
    for code, article, rate, no_revenue in (("pipa", "PIPA Art. 64-2(1), (3)", PIPA_FINE_RATE, PIPA_FINE_NO_REVENUE_KRW),
                                            ("pipa_aggravated", "PIPA Art. 64-2(2), (3)", PIPA_FINE_RATE_AGGRAVATED,
                                             PIPA_FINE_NO_REVENUE_AGGRAVATED_KRW)):
        ceiling = None if base is None else base * rate
        out.append(FineExposure("PIPA", code, article, ceiling, "KRW", rate, no_revenue, base, base is not None))
    return out


def gdpr_fines(fines) -> list[FineExposure]:
    turnover = fines.gdpr_worldwide_turnover_eur
    out = []
    for paragraph, (fixed, rate) in GDPR_CEILINGS.items():
        ceiling = fixed if turnover is None else max(fixed, turnover * rate)
        out.append(FineExposure("GDPR", "gdpr_" + paragraph.replace("(", "_").rstrip(")"), f"GDPR Art. {paragraph}",
                                ceiling, "EUR", rate, fixed, turnover, turnover is not None))
    return out
