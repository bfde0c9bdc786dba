"""The cross-validation report (sparsecore/cv.py) on a tiny configuration."""

import numpy as np
import pytest

pytest.importorskip("torch", reason="torch not installed (pip install '.[torch]')")

from sparsecore import cv  # noqa: E402


def test_folds_cover_every_image_once_and_are_stratified():
    _, y = cv.digits()
    splits = cv.folds(y, 5)
    tests = np.concatenate([te for _, te in splits])
    assert sorted(tests.tolist()) == list(range(1797))
    total = np.bincount(y, minlength=10)
    for tr, te in splits:
        assert not set(tr) & set(te)
        counts = np.bincount(y[te], minlength=10)
        # Stratified: each class's count is its total / 5, rounded down or up.
        assert ((counts == total // 5) | (counts == -(-total // 5))).all()


def test_verdict_needs_more_than_the_spread():
    a = {"mean": 0.95, "std": 0.01, "n": 3, "values": [0.94, 0.95, 0.96]}
    b = {"mean": 0.955, "std": 0.01, "n": 3, "values": [0.945, 0.955, 0.965]}
    c = {"mean": 0.90, "std": 0.01, "n": 3, "values": [0.89, 0.90, 0.91]}
    assert cv._verdict(a, b) == ("+0.50 ± 0.00", "within spread")
    assert cv._verdict(a, c) == ("-5.00 ± 0.00", "difference")


def test_tiny_cv_run(tmp_path):
    res = cv.run_cv(models=("mlp",), k=2, seeds=(0,), epochs=1, limit=6, rtl=False,
                    han_steps=1, log=lambda *_: None)
    m = res["models"]["mlp"]
    assert len(m["runs"]) == 2
    for key, _ in cv.METHOD_ROWS:
        if key == "s24_rtl":
            assert m["rows"][key]["accuracy"] is None
            continue
        values = [r["acc"][key] for r in m["runs"]]
        st = m["rows"][key]["accuracy"]
        assert st["n"] == 2 and st["mean"] == pytest.approx(np.mean(values))
        assert st["std"] == pytest.approx(np.std(values, ddof=1))
    assert m["rows"]["s24"]["sparsity"] == pytest.approx(0.5, abs=1e-3)
    assert m["golden_vs_torch"] == {"images": 12, "bit_exact": True,
                                    "accumulators": 12 * (256 + 256 + 10),
                                    "outputs": 12 * (256 + 256)}
    assert [z["layer"] for z in m["zvc"]] == ["0", "2"]
    path = cv.write(res, tmp_path, command="sparsecore cv (test)")
    text = path.read_text()
    assert "| 2:4 retrained | 50.0 % |" in text and "sparsecore cv (test)" in text
    assert cv.main([str(tmp_path / "cv.json")]) == 0
    assert (tmp_path / "cv.md").read_text() == text
