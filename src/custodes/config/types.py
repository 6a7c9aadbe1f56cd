"""Value types custodes.yaml keys share; rules use them to declare their parameters."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

#: a count or a number of days: a whole number above zero (``true`` is not 1, nor ``"50"`` 50)
Positive = Annotated[int, Field(strict=True, gt=0)]
#: a whole number, zero allowed
NonNegative = Annotated[int, Field(strict=True, ge=0)]
#: text that is not empty
Text = Annotated[str, Field(min_length=1)]
