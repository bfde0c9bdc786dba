"""A PyTorch CNN, 2:4 and int8, on the GEMM engine under Verilator, and the quiet simulator."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed (pip install '.[torch]')")
nn = torch.nn

from sparsecore import cv, frontend as fe, rtl_backend  # noqa: E402
from sparsecore.torch_ref import reference  # noqa: E402
from tb import runner  # noqa: E402


def test_verbosity_resolution(monkeypatch):
    monkeypatch.delenv("SIM_VERBOSE", raising=False)
    assert runner._verbose(None) is False
    monkeypatch.setenv("SIM_VERBOSE", "1")
    assert runner._verbose(None) is True
    with runner.verbosity(False):
        assert runner._verbose(None) is False
        assert runner._verbose(True) is True
    assert runner.log_paths("x") == (runner.SIM_BUILD / "x" / "build.log",
                                     runner.SIM_BUILD / "x" / "test.log")


@pytest.mark.sim
def test_cnn_on_the_rtl_is_bit_exact_and_quiet(capfd, monkeypatch):
    ok, reason = rtl_backend.rtl_status()
    if not ok:
        pytest.skip(reason)
    monkeypatch.delenv("SIM_VERBOSE", raising=False)
    x, y = cv.digits()
    xi = x.reshape(-1, 1, 8, 8)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3),
                          nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(72, 10))
    fe.train(model, xi[:300], y[:300], fe.TrainConfig(epochs=1))
    fe.train(model, xi[:300], y[:300], fe.TrainConfig(epochs=1), masks=fe.prune_24(model))
    graph = fe.quantize(model, xi[:300], input_shape=(1, 8, 8), sparse=True)
    images = xi[300:305]                        # 5: N padded to the tile inside the adapter
    capfd.readouterr()
    logits, trace = fe.run_int8(graph, images, gemm=fe.rtl_gemm())
    out = capfd.readouterr().out
    assert out == "", out[:500]                 # no Verilator log, no cocotb banner
    build_log, test_log = rtl_backend.log_paths()
    assert "cocotb" in test_log.read_text()
    rlogits, ref = reference(graph, images)
    rows = fe.compare(trace, ref)
    assert fe.bit_exact(rows), rows
    np.testing.assert_array_equal(logits, rlogits, strict=True)
    assert [r["acc_checked"] for r in rows] == [5 * 4 * 64, 5 * 8 * 36, 5 * 10]
    assert all(t["sparse"] for t in trace)
    # Exact engine work: tile ops of the sparse GEMMs (M/4 · N/4 · K/16 after padding).
    assert [t["counters"]["tile_ops"] for t in trace] == [
        rtl_backend.gemm_tile_ops(4, 16, 5 * 64, sparse=True),
        rtl_backend.gemm_tile_ops(8, 48, 5 * 36, sparse=True),
        rtl_backend.gemm_tile_ops(12, 80, 5, sparse=True)]
