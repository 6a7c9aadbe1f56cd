"""Formula neutralisation reads first bytes out of Arrow's buffers: it must agree with the plain
rule on any text, sliced or not."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings, strategies as st

from custodes.respond.scope import neutralise_formulas

FORMULA_FIRST = ("=", "+", "-", "@", "\t", "\r")


def expected(values: list[str]) -> list[str]:
    return ["'" + v if v[:1] in FORMULA_FIRST else v for v in values]


text = st.text(alphabet=st.sampled_from(list("=+-@\t\r\n a1,\"'김")), max_size=6)


@settings(deadline=None)  # the machine is shared: no timing in unit tests
@given(st.lists(text, max_size=40), st.integers(0, 40), st.integers(0, 40))
def test_agrees_with_the_rule_on_any_text_and_slice(values, start, length):
    array = pa.array(values, pa.string())
    assert neutralise_formulas(array).to_pylist() == expected(values)
    part = array.slice(start, length)
    assert neutralise_formulas(part).to_pylist() == expected(part.to_pylist())
