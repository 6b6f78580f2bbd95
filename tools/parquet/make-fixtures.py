"""Writes the parquet request bodies of test/fixtures/parquet/ as MLflow's clients make them.

MLflow 3 scores `application/vnd.apache.parquet` bodies: a DataFrame written by
`pandas.DataFrame.to_parquet()` (pyarrow engine). This script writes small such files with the
types, nulls, encodings and compressions pandas produces, and `expected.json` with what
`pandas.read_parquet` reads back, so the tests check our reader without Python.

Run (pandas and pyarrow from the local wheel mirror; the outputs are committed):

    python3 -m venv /tmp/pq && /tmp/pq/bin/pip install --retries 0 --timeout 1 pandas pyarrow
    /tmp/pq/bin/python tools/parquet/make-fixtures.py
"""

import json
import math
import os
import sys

import numpy as np
import pandas as pd
import pyarrow as pa

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "parquet")

IRIS = pd.DataFrame(
    {
        "sepal_length": [5.1, 6.7, 5.9],
        "sepal_width": [3.5, 3.0, 3.0],
        "petal_length": [1.4, 5.2, 4.2],
        "petal_width": [0.2, 2.3, 1.5],
    }
)


def typed_frame() -> pd.DataFrame:
    """Every column type a pandas frame of model features commonly has, with missing values."""
    return pd.DataFrame(
        {
            "i64": pd.array([1, -2, 9007199254740993, 4, 5], dtype="int64"),
            "i32": pd.array([7, 8, 9, 10, 11], dtype="int32"),
            "f64": [1.5, float("nan"), -0.25, 1e300, 2.0],
            "f32": pd.array([0.5, 1.25, -3.0, 4.0, 5.5], dtype="float32"),
            "s": ["a", None, "ünï", "a", ""],
            "b": [True, False, True, True, False],
            "b_null": pd.array([True, None, False, True, None], dtype="boolean"),
            "i_null": pd.array([1, None, 3, None, 5], dtype="Int64"),
            "cat": pd.Categorical(["x", "y", "x", None, "y"]),
            "bin": [b"\x00\x01", b"", b"\xff", None, b"abc"],
        }
    )


def write(df: pd.DataFrame, name: str, **kwargs) -> None:
    df.to_parquet(os.path.join(OUT, name), engine="pyarrow", **kwargs)


def expected_value(v):
    """A value as JSON, keeping what JSON cannot say: NaN, infinities, int64 beyond 2^53, bytes."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.ndarray):
        return [expected_value(x) for x in v.tolist()]
    if isinstance(v, pd.Timestamp):
        return {"datetime": v.isoformat()}
    if isinstance(v, (bytes, bytearray)):
        return {"bytes": list(v)}
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return {"int": str(int(v))}
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return {"float": "nan" if math.isnan(f) else str(f)} if math.isnan(f) or math.isinf(f) else f
    return v


def expected_frame(path: str) -> dict:
    """What pandas reads from a file: column names, dtypes and values (the index is not a column)."""
    df = pd.read_parquet(path)
    return {
        "columns": [str(c) for c in df.columns],
        "dtypes": [str(t) for t in df.dtypes],
        "rows": len(df),
        "values": [[expected_value(v) for v in df[c].tolist()] for c in df.columns],
    }


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    # What a client sends by default: df.to_parquet() (snappy, dictionary pages, pandas metadata).
    write(IRIS, "iris.parquet")
    typed = typed_frame()
    for codec in ["snappy", "zstd", "gzip", "brotli", "none"]:
        write(typed, f"typed.{codec}.parquet", compression=codec)
    # Plain encoding instead of dictionary pages, and several row groups.
    write(typed, "typed.plain.parquet", use_dictionary=False)
    write(typed, "typed.row-groups.parquet", row_group_size=2)
    # Data page v2 (what newer writers and Spark can produce).
    write(typed, "typed.page-v2.parquet", data_page_version="2.0")
    # A non-default index is stored as a column (__index_level_0__); pandas reads it back as the index.
    write(IRIS.set_index(pd.Index([10, 20, 30])), "iris.indexed.parquet")
    write(IRIS.set_index(pd.Index(["a", "b", "c"], name="id")), "iris.named-index.parquet")
    # No rows.
    write(IRIS.iloc[0:0], "iris.empty.parquet")
    # A nested (list) column: pandas makes it an object column of arrays.
    write(pd.DataFrame({"tags": [["a", "b"], [], None]}), "lists.parquet")
    # A timestamp column.
    write(pd.DataFrame({"t": pd.to_datetime(["2024-01-02T03:04:05.123456", None])}), "timestamps.parquet")
    # LZ4, which modelgate does not read.
    write(IRIS, "iris.lz4.parquet", compression="lz4")
    # 64 KB that decode to 17 million values (run-length encoded zeros): refused before decoding.
    write(pd.DataFrame({"z": np.zeros(17_000_000, dtype="int8")}), "bomb.parquet", compression="zstd")

    small = [n for n in sorted(os.listdir(OUT)) if n.endswith(".parquet") and n != "bomb.parquet"]
    expected = {name: expected_frame(os.path.join(OUT, name)) for name in small}
    expected["_generator"] = {"pandas": pd.__version__, "pyarrow": pa.__version__, "python": sys.version.split()[0]}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
