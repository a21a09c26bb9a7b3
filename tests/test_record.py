"""helpers.record: what a notebook records reaches make bench."""

import json
import math

import pytest

from helpers.record import RECORD_ENV, read_records, record


def test_record_prints_and_appends_when_bench_asks(tmp_path, monkeypatch, capsys):
    path = tmp_path / "r.jsonl"
    monkeypatch.setenv(RECORD_ENV, str(path))
    record("grid modes", 25, reference="PacGAN4 24.8")
    record("excess", 0.01234, reference=0.0, unit="nats")
    out = capsys.readouterr().out
    assert "grid modes: 25  (reference: PacGAN4 24.8)" in out
    assert "excess: 0.01234 nats  (reference: 0)" in out
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[1] == {"name": "excess", "value": 0.01234, "reference": 0.0, "unit": "nats"}
    assert [m.name for m in read_records(str(path))] == ["grid modes", "excess"]


def test_record_without_bench_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(RECORD_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    m = record("x", 1.5, quiet=True)
    assert m.value == 1.5 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name,value,match", [("", 1, "non-empty metric name"), ("a", "high", "real number"),
                                              ("a", math.nan, "finite number")])
def test_record_bad_input(name, value, match):
    with pytest.raises(ValueError, match=match):
        record(name, value, quiet=True)
