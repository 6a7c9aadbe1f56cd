import duckdb
import pyarrow as pa

from custodes.ids import key_of, key_sql


def test_vectorised_key_is_bit_identical_to_scalar():
    values = ["abc", None, "203.0.113.7", "", "ünïcode", "2001:db8::1"] + [f"acct-{i}" for i in range(500)]
    t = pa.table({"s": pa.array(values, pa.string())})  # noqa: F841 - DuckDB reads t by its name
    got = [r[0] for r in duckdb.sql(f"select {key_sql('s')} from t").fetchall()]
    assert got == [key_of(v) for v in values]


def test_keys_spread_over_the_whole_signed_range():
    keys = [key_of(f"x{i}") for i in range(2000)]
    assert len(set(keys)) == 2000
    assert any(k < 0 for k in keys) and any(k > 0 for k in keys)
