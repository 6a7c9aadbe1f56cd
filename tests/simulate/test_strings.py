"""The vectorised id and ordering helpers the simulator's speed rests on."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest

from custodes.simulate import network
from custodes.simulate.strings import argsort_stable, hex_ids, numbered
from custodes.simulate.traffic import request_ids, token_ids, unique_words


@pytest.mark.parametrize("values", [
    np.random.default_rng(1).integers(-50, 50, 10_000),             # many ties
    np.random.default_rng(2).integers(0, 2**40, 10_000),            # packed path
    np.random.default_rng(3).integers(-2**62, 2**62, 1_000),         # too wide: falls back
    np.array([], dtype=np.int64), np.array([7]),
])
def test_argsort_stable_matches_numpys_stable_sort(values):
    assert (argsort_stable(values) == np.argsort(values, kind="stable")).all()


def test_ids_are_unique_by_construction_and_look_right():
    ids = request_ids(1, 6, 3, 200_000).to_pylist()
    assert len(set(ids)) == len(ids) and all(len(i) == 16 for i in ids[:100])
    jti = token_ids(1, 1, 3, 5).to_pylist()
    assert all(len(j) == 36 and j.count("-") == 4 for j in jti)
    assert set(request_ids(1, 6, 3, 1000).to_pylist()).isdisjoint(request_ids(1, 6, 4, 1000).to_pylist())
    with pytest.raises(ValueError):
        unique_words(1, 6, 70_000, 10)


def test_hex_and_numbered_spell_values():
    assert hex_ids(np.array([0x0123456789ABCDEF], dtype=np.uint64), prefix="k_").to_pylist() == ["k_0123456789abcdef"]
    assert numbered("u", np.array([5, 10_000_123]), 8).to_pylist() == ["u00000005", "u10000123"]


def test_drawn_addresses_are_valid_and_inside_their_blocks():
    rng = np.random.default_rng(0)
    text, block, _ = network.draw_ipv4(rng, network.DOMESTIC, 2_000)
    for ip, b in zip(text.to_pylist(), block):
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(network.DOMESTIC[b].network)
        assert not ip.endswith((".0", ".255"))
    text6, block6 = network.draw_ipv6(rng, network.DOMESTIC_V6, 500)
    for ip, b in zip(text6.to_pylist(), block6):
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(network.DOMESTIC_V6[b].network)
