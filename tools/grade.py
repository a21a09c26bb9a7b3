"""`make grade SUBMISSIONS=dir`: grade a folder of submitted student notebooks.

A submission is a student notebook (``make student`` writes them) that a student has completed:
``SUBMISSIONS/<student>/<chapter>.ipynb``, or ``SUBMISSIONS/<student>_<chapter>.ipynb`` with the
chapter's file name (``02_elbo_and_reparameterization``) inside the submission's name. For every
coding exercise of that chapter the grader takes the student's answer cell (the cell with the
chapter's cell id, else the cell that defines the exercise's function) and runs it, alone, with
the chapter's own check in a fresh Python process, so one failure never hides another and a
student cannot change the check. The points of an exercise are the ``points`` of its solution
cell's metadata; a check passes for all of them or for none.

Each answer is untrusted code. Its process runs in its own empty scratch directory with limits
on CPU time, wall time and memory (``resource`` limits, a killed process group), without network
(a network namespace where ``unshare`` is available, and always an audit hook that refuses
sockets), without subprocesses, ``ctypes`` or ``gc`` introspection, and it may not write outside
its scratch directory or read the submissions folder or the grades. Breaking a rule, or a limit,
scores zero on that exercise; the other exercises and the other students are graded as usual.
What this does not give is a check that cannot be rewritten from inside the answer by a student
who sets out to: the audit hook stops an answer from importing ``helpers`` and the checks record
calls into it, but any grader that runs the student's code in the process of the check (Otter's
included) trusts that process. Read the answers of full marks that look suspicious.

Writes ``OUT/grades.csv`` (one row per student, chapter and exercise: points, maximum, status and
the check's message) and ``OUT/grades.json`` (the same, with totals per student).

Usage: python tools/grade.py SUBMISSIONS [--out grades] [--cpu 60] [--wall 120] [--memory 2048] [--jobs 2]
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
MARK = "GRADE-RESULT "


@dataclass(frozen=True)
class Exercise:
    """A coding exercise of a chapter: its function, its trusted check cell and its points."""

    chapter: str
    name: str
    cell_id: str
    check: str
    points: int


@dataclass
class Grade:
    student: str
    chapter: str
    exercise: str
    points: float
    max_points: int
    status: str  # passed, failed, error, missing, limit, refused
    message: str
    seconds: float


class GradingError(ValueError):
    """The submissions folder or a chapter breaks the grader's conventions."""


def exercises(chapter: Path) -> list[Exercise]:
    """The coding exercises of one chapter, in order: each solution cell and the check cell after it."""
    cells = json.loads(chapter.read_text())["cells"]
    out = []
    for i, cell in enumerate(cells):
        if "exercise-solution" not in cell.get("metadata", {}).get("tags", []):
            continue
        src = "".join(cell["source"])
        name = re.search(r"^def (\w+)", src, re.M)
        after = [c for c in cells[i + 1:] if c["cell_type"] == "code"][:1]
        if not name or not after or "exercise-check" not in after[0].get("metadata", {}).get("tags", []):
            raise GradingError(f"{chapter.name}: the solution cell {cell.get('id')} needs a def and a check "
                               "cell after it")
        points = cell["metadata"].get("points")
        if isinstance(points, bool) or not isinstance(points, int) or points < 1:
            raise GradingError(f"{chapter.name}: the solution cell of {name.group(1)} needs metadata "
                               f"'points' (a positive integer), got {points!r}")
        out.append(Exercise(chapter.stem, name.group(1), cell.get("id", ""), "".join(after[0]["source"]), points))
    return out


def answer_cell(submission: dict, exercise: Exercise) -> str | None:
    """The student's code for ``exercise``: the cell with its id, else the last cell defining its function."""
    code = [c for c in submission.get("cells", []) if c.get("cell_type") == "code"]
    for c in code:
        if c.get("id") == exercise.cell_id:
            return "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
    defining = [c for c in code if re.search(rf"^def {exercise.name}\b", "".join(c["source"]), re.M)]
    return "".join(defining[-1]["source"]) if defining else None


def imports_helpers(code: str) -> bool:
    """Does the answer import ``helpers`` (or reach for the import machinery)?"""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False  # reported when it runs
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "helpers" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "helpers":
            return True
        if isinstance(node, ast.Name) and node.id in {"__import__", "importlib"}:
            return True
        if isinstance(node, ast.Attribute) and node.attr == "modules" and getattr(node.value, "id", "") == "sys":
            return True
    return False


def find_submissions(folder: Path, chapters: list[Path]) -> list[tuple[str, Path, Path | None]]:
    """(student, submission, chapter or None) for every notebook under ``folder``."""
    out = []
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        rel = path.relative_to(folder)
        match = [c for c in chapters if c.stem in path.stem]
        chapter = max(match, key=lambda c: len(c.stem)) if match else None
        if len(rel.parts) > 1:
            student = rel.parts[0]
        elif chapter is not None:
            student = path.stem.replace(chapter.stem, "").strip("_- ") or path.stem
        else:
            student = path.stem
        out.append((student, path, chapter))
    return out


def _network_prefix() -> list[str]:
    """``unshare`` arguments that give the child an empty network namespace, or [] where not allowed."""
    if not shutil.which("unshare"):
        return []
    for args in (["unshare", "-n"], ["unshare", "-rn"]):
        try:
            if subprocess.run([*args, "true"], capture_output=True, timeout=10).returncode == 0:
                return args
        except (OSError, subprocess.TimeoutExpired):
            continue
    return []


def run_answer(code: str, exercise: Exercise, *, forbidden: list[Path], cpu_s: int, wall_s: int, memory_mib: int,
               network: list[str]) -> tuple[str, str, float]:
    """Run one answer and its check in a sandboxed child: (status, message, seconds)."""
    scratch = Path(tempfile.mkdtemp(prefix="grade-"))
    job = json.dumps({"code": code, "check": exercise.check, "name": exercise.name, "scratch": str(scratch),
                      "forbidden": [str(p) for p in forbidden]})

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory_mib * 2**20, memory_mib * 2**20))
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 2**20, 16 * 2**20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(scratch), "PYTHONPATH": str(ROOT),
           "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8",
           "TMPDIR": str(scratch)}
    start = time.perf_counter()
    proc = subprocess.Popen([*network, sys.executable, str(Path(__file__).resolve()), "--run-one"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=scratch, env=env, preexec_fn=limits, start_new_session=True)
    try:
        out, err = proc.communicate(job, timeout=wall_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        shutil.rmtree(scratch, ignore_errors=True)
        return "limit", f"stopped after {wall_s} s of wall time (an endless loop?)", time.perf_counter() - start
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    seconds = time.perf_counter() - start
    shutil.rmtree(scratch, ignore_errors=True)
    rows = [ln for ln in out.splitlines() if ln.startswith(MARK)]
    if rows:
        result = json.loads(rows[-1][len(MARK):])
        return result["status"], result["message"], seconds
    if proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL) or "SIGXCPU" in err:
        return "limit", f"stopped after {cpu_s} s of CPU time", seconds
    tail = (err.strip().splitlines() or ["no output"])[-1]
    if "MemoryError" in err or "Cannot allocate memory" in err:
        return "limit", f"stopped: it needed more than {memory_mib} MiB of memory", seconds
    return "error", f"the answer's process ended without a result (exit {proc.returncode}): {tail}", seconds


def grade(folder: Path, out: Path, *, chapters_dir: Path = CHAPTERS, cpu_s: int = 60, wall_s: int = 120,
          memory_mib: int = 2048, workers: int = 2) -> list[Grade]:
    """Grade every submission under ``folder``; write ``out/grades.csv`` and ``out/grades.json``."""
    folder, out = folder.resolve(), out.resolve()
    if not folder.is_dir():
        raise GradingError(f"the submissions folder {folder} does not exist")
    if out == folder or folder in out.parents:
        raise GradingError(f"the grades folder {out} must lie outside the submissions folder {folder}")
    for name, value in (("cpu", cpu_s), ("wall", wall_s), ("memory", memory_mib), ("jobs", workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise GradingError(f"{name} must be a positive integer, got {value!r}")
    chapters = sorted(chapters_dir.glob("*.ipynb"))
    network = _network_prefix()
    grades: list[Grade] = []
    jobs: list[tuple[str, Exercise, str | None]] = []
    for student, path, chapter in find_submissions(folder, chapters):
        if chapter is None:
            grades.append(Grade(student, "", "", 0, 0, "error", f"{path.name}: no chapter of the book has this name",
                                0.0))
            continue
        try:
            submission = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            submission = {"cells": []}
            print(f"grade: {path} is not a notebook ({exc}); every exercise scores 0", file=sys.stderr)
        for ex in exercises(chapter):
            jobs.append((student, ex, answer_cell(submission, ex)))

    def one(job: tuple[str, Exercise, str | None]) -> Grade:
        student, ex, code = job
        if code is None:
            g = Grade(student, ex.chapter, ex.name, 0, ex.points, "missing", f"no cell defines {ex.name}", 0.0)
        elif imports_helpers(code):
            g = Grade(student, ex.chapter, ex.name, 0, ex.points, "refused",
                      f"the answer imports helpers (or the import machinery); write {ex.name} with torch", 0.0)
        else:
            status, message, seconds = run_answer(code, ex, forbidden=[folder, out], cpu_s=cpu_s, wall_s=wall_s,
                                                  memory_mib=memory_mib, network=network)
            g = Grade(student, ex.chapter, ex.name, ex.points if status == "passed" else 0, ex.points, status,
                      message, round(seconds, 2))
        print(f"grade: {student} {ex.chapter} {ex.name}: {g.points}/{g.max_points} {g.status}", flush=True)
        return g

    with ThreadPoolExecutor(max(1, workers)) as pool:  # each answer is its own process: they run side by side
        grades += list(pool.map(one, jobs))
    write(grades, out, sandbox={"network_namespace": bool(network), "cpu_s": cpu_s, "wall_s": wall_s,
                                "memory_mib": memory_mib})
    return grades


def write(grades: list[Grade], out: Path, sandbox: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fields = list(Grade.__dataclass_fields__)
    with (out / "grades.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(asdict(g) for g in grades)
    totals: dict[str, dict] = {}
    for g in grades:
        t = totals.setdefault(g.student, {"points": 0, "max_points": 0})
        t["points"] += g.points
        t["max_points"] += g.max_points
    doc = {"date": time.strftime("%Y-%m-%d %H:%M"), "sandbox": sandbox, "totals": totals,
           "grades": [asdict(g) for g in grades]}
    (out / "grades.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------ the child: one answer, one check

_BLOCKED = ("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
            "pty.", "ctypes.", "gc.get_", "sys._current_frames", "sys.setprofile", "sys.settrace",
            "sys.addaudithook", "os.kill", "os.putenv", "os.unsetenv", "webbrowser.", "urllib.", "http.", "ftplib.",
            "smtplib.", "code.__new__", "cpython.run_")
_WRITES = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.symlink", "os.link",
           "os.truncate", "os.utime", "shutil.", "os.chflags", "os.lchmod", "os.lchown")
_LISTS = ("os.listdir", "os.scandir", "glob.glob", "os.walk")


def _install_sandbox(scratch: str, forbidden: list[str], checks_dir: str) -> None:
    """From here on, refuse what an answer has no business doing (see the module docstring)."""
    own = str(Path(scratch).resolve())
    deny = tuple(str(Path(p).resolve()) for p in forbidden)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def resolved(path: object) -> str | None:
        if isinstance(path, int):
            return None
        try:
            return os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return None

    def inside(path: str, root: str) -> bool:
        return path == root or path.startswith(root + os.sep)

    def hook(event: str, args: tuple) -> None:
        if event == "sys._getframe":
            return  # torch and the standard library use it; and the caller test below needs it
        if event in ("sys.setprofile", "sys.settrace"):
            # only the checks may switch the recorder of calls into helpers on and off
            if sys._getframe(1).f_code.co_filename.startswith(checks_dir):  # noqa: SLF001 - who asked
                return
        if event.startswith(_BLOCKED):
            raise PermissionError(f"an answer may not use {event} while it is graded")
        if event == "import" and args and str(args[0]).split(".")[0] == "helpers":
            raise PermissionError(f"an answer may not import {args[0]}")
        if event == "open":
            path = resolved(args[0])
            if path is None:
                return
            mode, flags = args[1] or "r", args[2] or 0
            writing = any(m in str(mode) for m in "wax+") or bool(flags & write_flags)
            if writing and not inside(path, own):
                raise PermissionError(f"an answer may write only in its scratch folder, not {path}")
            if any(inside(path, d) for d in deny):
                raise PermissionError("an answer may not read the submissions or the grades")
        elif event.startswith(_WRITES):
            for a in args[:2]:
                path = resolved(a)
                if path is not None and not inside(path, own):
                    raise PermissionError(f"an answer may change files only in its scratch folder, not {path}")
        elif event.startswith(_LISTS):
            path = resolved(args[0]) if args else None
            if path is not None and any(inside(path, d) for d in deny):
                raise PermissionError("an answer may not list the submissions or the grades")

    sys.addaudithook(hook)


def _run_one() -> int:
    import contextlib
    import io

    job = json.loads(sys.stdin.read())
    check_import = re.search(r"^from (helpers\.checks\.\w+) import (\w+)", job["check"], re.M)
    if not check_import:
        print(MARK + json.dumps({"status": "error", "message": "the chapter's check cell names no check"}))
        return 0
    import importlib

    import torch  # noqa: F401 - loaded before the sandbox closes

    import helpers.checks
    module = importlib.import_module(check_import.group(1))
    check = getattr(module, check_import.group(2))
    ExerciseError = helpers.checks.ExerciseError  # noqa: N806 - the class
    buffer = io.StringIO()
    _install_sandbox(job["scratch"], job["forbidden"], str(Path(helpers.checks.__file__).resolve().parent))
    scope: dict = {"__name__": "__main__"}
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            exec(compile(job["code"], f"<answer {job['name']}>", "exec"), scope)  # noqa: S102 - sandboxed
            if job["name"] not in scope:
                raise NameError(f"the answer cell does not define {job['name']}")
            check(scope[job["name"]])
        status, message = "passed", buffer.getvalue().strip().splitlines()[-1] if buffer.getvalue().strip() else ""
    except ExerciseError as exc:
        status, message = "failed", str(exc)
    except PermissionError as exc:
        status, message = "refused", str(exc)
    except MemoryError:
        status, message = "limit", "stopped: it needed more memory than the grader allows"
    except RuntimeError as exc:  # torch's allocator reports the same limit as a RuntimeError
        status, message = (("limit", "stopped: it needed more memory than the grader allows")
                           if "allocate memory" in str(exc) else ("error", f"RuntimeError: {exc}"))
    except BaseException as exc:  # noqa: BLE001 - whatever the answer raised is its grade
        status, message = "error", f"{type(exc).__name__}: {exc}"
    sys.stdout.write(MARK + json.dumps({"status": status, "message": message[:4000]}) + "\n")
    sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--run-one"]:
        return _run_one()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="folder of submitted notebooks")
    parser.add_argument("--out", type=Path, default=ROOT / "grades", help="where grades.csv and grades.json go")
    parser.add_argument("--cpu", type=int, default=60, help="CPU seconds one answer may use")
    parser.add_argument("--wall", type=int, default=120, help="wall-clock seconds one answer may take")
    parser.add_argument("--memory", type=int, default=2048, help="MiB of memory one answer may use")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), help="answers graded side by side")
    parser.add_argument("--chapters", type=Path, default=CHAPTERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        grades = grade(args.submissions, args.out, chapters_dir=args.chapters, cpu_s=args.cpu, wall_s=args.wall,
                       memory_mib=args.memory, workers=args.jobs)
    except GradingError as exc:
        parser.error(str(exc))
    got, best = sum(g.points for g in grades), sum(g.max_points for g in grades)
    print(f"grade: {len({g.student for g in grades})} students, {got}/{best} points; wrote "
          f"{args.out / 'grades.csv'} and {args.out / 'grades.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
