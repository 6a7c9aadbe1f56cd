"""``respond:`` in custodes.yaml, checked strictly (pydantic): who the organisation is, who its
privacy officer and DPO are, where people report damage, and the revenue figures that bound a
fine. A typo is an error that names the key, never a field silently left empty in a document
sent to a regulator.

Names and titles may be given once (the same in every language) or per language::

    respond:
      organization: {en: Example Commerce Co., ko: 예시커머스 주식회사}
      privacy_officer: {name: {en: Kim Minji, ko: 김민지}, title: CPO, email: privacy@example.com}
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from custodes.workspace import Workspace


class Localized(BaseModel):
    """A text in each language; a language left out falls back to the other."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    en: str | None = Field(None, min_length=1, max_length=300)
    ko: str | None = Field(None, min_length=1, max_length=300)

    @model_validator(mode="after")
    def _one(self):
        if self.en is None and self.ko is None:
            raise ValueError("give en, ko or both")
        return self

    def pick(self, lang: str) -> str:
        return (self.ko if lang == "ko" else self.en) or self.en or self.ko


Text = str | Localized


def pick(text: Text | None, lang: str) -> str | None:
    if text is None:
        return None
    return text if isinstance(text, str) else text.pick(lang)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_Strict):
    """Someone a regulator or a data subject can reach."""
    name: Text | None = None
    title: Text | None = None
    department: Text | None = None
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)
    phone: str | None = Field(None, min_length=3, max_length=40)
    address: Text | None = None
    hours: Text | None = None          # when the contact point answers (e.g. 평일 09:00-18:00)
    url: str | None = Field(None, pattern=r"^https?://", max_length=500)

    @property
    def reachable(self) -> bool:
        return bool(self.name and (self.email or self.phone))


class Fines(_Strict):
    """Revenue figures for fine ceilings (currency units, no separators)."""
    #: PIPA Art. 64-2: total revenue as the decree defines it, and the part unrelated to the breach
    pipa_total_revenue_krw: float | None = Field(None, ge=0)
    pipa_unrelated_revenue_krw: float | None = Field(None, ge=0)
    #: older spelling: total revenue already less the unrelated part
    pipa_relevant_revenue_krw: float | None = Field(None, ge=0)
    #: GDPR Art. 83: total worldwide annual turnover of the preceding financial year
    gdpr_worldwide_turnover_eur: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _consistent(self):
        if self.pipa_relevant_revenue_krw is not None and self.pipa_total_revenue_krw is not None:
            raise ValueError("give pipa_total_revenue_krw (and pipa_unrelated_revenue_krw) or "
                             "pipa_relevant_revenue_krw, not both")
        if self.pipa_unrelated_revenue_krw is not None:
            if self.pipa_total_revenue_krw is None:
                raise ValueError("pipa_unrelated_revenue_krw needs pipa_total_revenue_krw")
            if self.pipa_unrelated_revenue_krw > self.pipa_total_revenue_krw:
                raise ValueError("pipa_unrelated_revenue_krw exceeds pipa_total_revenue_krw")
        return self

    def pipa_base(self) -> float | None:
        """Revenue the 3% applies to: total less what is unrelated to the breach (Art. 64-2(3))."""
        if self.pipa_relevant_revenue_krw is not None:
            return self.pipa_relevant_revenue_krw
        if self.pipa_total_revenue_krw is None:
            return None
        return self.pipa_total_revenue_krw - (self.pipa_unrelated_revenue_krw or 0)


class Gdpr(_Strict):
    applies: bool | None = None
    supervisory_authority: Text | None = None     # the lead authority the notification goes to
    member_states: list[str] = Field(default_factory=list)   # where affected subjects live (ISO codes)


class Measures(_Strict):
    """What the organisation did or will do beyond what custodes plans (free text, per language)."""
    taken: list[Text] = Field(default_factory=list)
    planned: list[Text] = Field(default_factory=list)


class RespondConfig(_Strict):
    organization: Text | None = None
    privacy_officer: Person | None = None   # 개인정보 보호책임자 (PIPA Art. 31)
    dpo: Person | None = None               # GDPR Art. 37; Art. 33(3)(b)'s contact
    contact: Person | None = None           # where damage is reported (PIPA Art. 34(1) 5)
    website: str | None = Field(None, pattern=r"^https?://", max_length=500)
    classification: Text | None = None     # the running header's label; default Confidential
    fines: Fines = Fines()
    gdpr: Gdpr = Gdpr()
    measures: Measures = Measures()

    def damage_contact(self) -> Person | None:
        """The contact point for damage reports: ``contact``, else the privacy officer."""
        return self.contact if self.contact is not None else self.privacy_officer


def load(workspace: Workspace) -> RespondConfig:
    """The workspace's ``respond:`` section (an empty one when absent). The section was checked
    with the whole file (custodes.config): a problem is raised there, one line per key."""
    return RespondConfig.model_validate(workspace.setting("respond", None) or {})
