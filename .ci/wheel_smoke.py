"""Install built distributions into fresh venvs outside the checkout and use them as a lab would.

    python .ci/wheel_smoke.py dist/qcm_monitor-X-py3-none-any.whl [dist/qcm_monitor-X.tar.gz ...]
        [--python /path/to/python3.10]

For each file: a new venv in a temporary folder (with --python's interpreter, default this one), ``pip
install FILE``, then from that folder (never the checkout): the presets are package data, ``qcm
--version``, ``qcm analyze`` of a generated Al2O3-like trace with a preset recipe, and ``qcm simulate``
answering one SQM-160 query sent with pyserial. Exits non-zero on the first failure. Needs pyserial in
the interpreter that runs it (the project's dev venv has it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import serial

CHECKOUT = Path(__file__).resolve().parent.parent

# Sauerbrey from the quartz constants (not from the program): ng/cm² per Hz of frequency drop
RHO_Q_G_CM3 = 2.648
MU_Q_G_CM_S2 = 2.947e11
F0_HZ = 5_980_000.0
NG_PER_HZ = math.sqrt(RHO_Q_G_CM3 * MU_Q_G_CM_S2) / (2 * F0_HZ**2) * 1e9

# the al2o3 preset's cycle: TMA 0.1 s (+40.5 ng/cm²), N2 15 s, H2O 0.1 s (-3.5 ng/cm²), N2 15 s
STEPS = [(0.1, 40.5), (15.0, 0.0), (0.1, -3.5), (15.0, 0.0)]
CYCLES = 12
RATE_HZ = 10.0

# the SQM-160 manual's test vector for the firmware query `@`, and what a MON 4.13 unit answers
SQM160_QUERY = b"!#@O7"
SQM160_FIRMWARE = b"MON Ver 4.13"


def fail(message: str) -> None:
    print(f"wheel smoke: FAILED: {message}", file=sys.stderr)
    raise SystemExit(1)


def crc14(body: bytes) -> bytes:
    """The SQM-160 manual's CRC over the length character and the message, as two printable bytes."""
    crc = 0x3FFF
    for byte in body:
        crc ^= byte
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= 0x2001
    crc &= 0x3FFF
    return bytes([(crc & 0x7F) + 34, ((crc >> 7) & 0x7F) + 34])


def read_reply(port: serial.Serial) -> tuple[bytes, bytes]:
    """One reply frame: ``!``, length + 35, status, data, CRC; returns (status, data)."""
    head = port.read(2)
    if len(head) != 2 or head[:1] != b"!":
        fail(f"SQM-160 reply starts {head!r}")
    rest = port.read(head[1] - 35 + 2)
    body, crc = head[1:] + rest[:-2], rest[-2:]
    if crc != crc14(body):
        fail(f"SQM-160 reply {head + rest!r}: CRC {crc!r}, expected {crc14(body)!r}")
    return rest[:1], rest[1:-2]


def write_trace(path: Path) -> None:
    """A 10 Hz ``time_s,frequency_hz`` trace: each pulse steps the mass, settling over ~1 s, with noise."""
    rng = random.Random(14)
    events, t = [], 5.0  # (time, mass step) of each pulse after 5 s of baseline
    for _ in range(CYCLES):
        for duration_s, mass_ng_cm2 in STEPS:
            if mass_ng_cm2:
                events.append((t, mass_ng_cm2))
            t += duration_s
    end_s = t + 10.0
    lines = ["time_s,frequency_hz"]
    for i in range(int(end_s * RATE_HZ)):
        now = i / RATE_HZ
        mass = sum(m * (1 - math.exp(-(now - t0) / 0.3)) for t0, m in events if now >= t0)
        f = F0_HZ - mass / NG_PER_HZ - 0.002 * now + rng.gauss(0.0, 0.03)
        lines.append(f"{now:.2f},{f:.4f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout_s: float = 600) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def check_simulate(qcm: Path, cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [str(qcm), "simulate", "--protocol", "sqm160"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        try:
            port_name = lines.get(timeout=120).strip()
        except queue.Empty:
            fail("qcm simulate printed no port within 120 s")
        if not port_name:
            fail(f"qcm simulate printed no port: {proc.stderr.read()}")
        with serial.serial_for_url(port_name, 19200, timeout=10) as port:
            port.write(SQM160_QUERY)
            status, data = read_reply(port)
        # A: ok; B: ok, and the unit was reset since it was last asked (the emulator's first reply)
        if status not in (b"A", b"B") or data != SQM160_FIRMWARE:
            fail(f"qcm simulate on {port_name} answered status {status!r}, data {data!r} to {SQM160_QUERY!r}")
        print(f"  qcm simulate: {port_name} answered {status.decode()} {data.decode()!r} to {SQM160_QUERY!r}")
    finally:
        proc.terminate()
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            fail("qcm simulate did not stop on terminate")
    if os.name != "nt" and code != 0:
        fail(f"qcm simulate exited {code} on SIGTERM: {proc.stderr.read()}")


def smoke(dist: Path, python: str) -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="qcm-smoke-") as tmp_name:
        tmp = Path(tmp_name)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env["QT_QPA_PLATFORM"] = "offscreen"
        run([python, "-m", "venv", str(tmp / "venv")], tmp, env)
        bin_dir = tmp / "venv" / ("Scripts" if os.name == "nt" else "bin")
        py, qcm = bin_dir / "python", bin_dir / "qcm"
        run([str(py), "-m", "pip", "install", "-q", str(dist)], tmp, env, timeout_s=1800)
        print(f"{dist.name}: installed into {tmp / 'venv'} with {run([str(py), '-V'], tmp, env).strip()}")

        # the program comes from the venv, and every shipped resource file came with it
        probe = (
            "import json, importlib.metadata, qcm_app, qcm_app.domain.recipes as r, qcm_app.io.recipe_files as rf; "
            "print(json.dumps({'file': qcm_app.__file__, 'presets': {k: str(v) for k, v in rf.preset_paths().items()}, "
            "'resources': str(r.PRESET_DIR.parent), 'version': importlib.metadata.version('qcm-monitor')}))"
        )
        info = json.loads(run([str(py), "-c", probe], tmp, env))
        installed = Path(info["file"]).resolve()
        if CHECKOUT in installed.parents or tmp not in installed.parents:
            fail(f"qcm_app was imported from {installed}, not from the fresh venv")
        shipped = sorted(
            p.relative_to(CHECKOUT / "resources").as_posix()
            for p in (CHECKOUT / "resources").rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
        )
        missing = [name for name in shipped if not (Path(info["resources"]) / name).is_file()]
        if missing:
            fail(f"resources not installed with the package: {', '.join(missing)}")
        if "al2o3" not in info["presets"]:
            fail(f"preset al2o3 not found; presets: {info['presets']}")
        print(f"  {len(shipped)} resource files installed; presets {', '.join(info['presets'])}")

        version = run([str(qcm), "--version"], tmp, env).strip()
        if version != f"qcm-monitor {info['version']}":
            fail(f"qcm --version printed {version!r}; the installed distribution is {info['version']}")
        module_version = run([str(py), "-m", "qcm_app", "--version"], tmp, env).strip()
        if module_version != version:
            fail(f"python -m qcm_app --version printed {module_version!r}, qcm --version {version!r}")
        print(f"  qcm --version: {version}")

        trace = tmp / "al2o3 trace.csv"  # a space in the name on purpose
        write_trace(trace)
        out = run([str(qcm), "analyze", str(trace), "--recipe", "al2o3", "--json", str(tmp / "cycles.json")], tmp, env)
        doc = json.loads((tmp / "cycles.json").read_text(encoding="utf-8"))
        gains = sorted(c["mass_gain_ng_cm2"] for c in doc["cycles"])
        expected = sum(m for _, m in STEPS)
        if not CYCLES - 1 <= len(gains) <= CYCLES or f"{len(gains)} cycles" not in out:
            fail(f"qcm analyze found {len(gains)} cycles in a trace of {CYCLES}:\n{out}")
        median = gains[len(gains) // 2]
        if abs(median - expected) > 0.1 * expected:
            fail(f"qcm analyze: median mass gain {median:.1f} ng/cm² per cycle, the trace has {expected:.1f}")
        print(
            f"  qcm analyze: {out.splitlines()[0].split(': ', 1)[1]}, median {median:.1f} ng/cm² "
            f"(trace: {expected:.1f})"
        )

        check_simulate(qcm, tmp, env)
    print(f"  {dist.name}: smoke passed in {time.monotonic() - started:.0f} s")


def main() -> int:
    if b"!#@" + crc14(b"#@") != SQM160_QUERY:  # the CRC written here against the manual's vector
        fail("crc14 does not reproduce the manual's test vector")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dists", nargs="+", type=Path, help="wheel and/or sdist files")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the fresh venvs")
    args = parser.parse_args()
    for dist in args.dists:
        smoke(dist.resolve(), args.python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
