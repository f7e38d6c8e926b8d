#!/usr/bin/env python3
"""make mutate: plants each mutation of tests/mutate/mutations.json, one at a
time, in a copy of the tree, rebuilds build/tessera there, runs the tests the
mutation names, and says whether they caught it (killed) or not (survived).

The worktree is never modified: the copy lives in a temporary directory,
removed at exit. A mutation whose snippet is not found exactly once, or that
does not compile, is an error of the list (it must be fixed, not ignored).
PostgreSQL mutations ("pg": true) run against a throwaway cluster
(scripts/pg-cluster.sh), started once for the whole run.

    python3 tests/mutate/run.py                 # every mutation
    python3 tests/mutate/run.py --only ID,ID    # some of them
    python3 tests/mutate/run.py --list          # what the list holds

Exit status: 0 when every mutation was killed, 1 otherwise.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIST = Path(__file__).resolve().parent / "mutations.json"
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
TEST_TIMEOUT = 600   # seconds for one mutation's tests; longer counts as killed (a hang)
COPY = ["Makefile", "src", "tests", "scripts", "examples", "docs"]


def load(only):
    muts = json.loads(LIST.read_text())["mutations"]
    ids = [m["id"] for m in muts]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        sys.exit(f"mutate: duplicate ids in {LIST.name}: {sorted(dup)}")
    if only:
        want = set(only.split(","))
        unknown = want - set(ids)
        if unknown:
            sys.exit(f"mutate: no such mutation: {sorted(unknown)}")
        muts = [m for m in muts if m["id"] in want]
    return muts


def run(cmd, cwd, env=None, timeout=None):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        return p.returncode, p.stdout.decode(errors="replace"), time.monotonic() - t0
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        return None, out, time.monotonic() - t0


def build(tree):
    rc, out, _ = run(["make", "-j2", "--no-print-directory", "build/tessera"], tree)
    return rc == 0, out


def pytest_cmd(m):
    cmd = [PYTHON, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
    if not m.get("pg"):
        cmd += ["-m", "not pg_only"]
    if m.get("k"):
        cmd += ["-k", m["k"]]
    return cmd + m["tests"]


def test_env(tree, m, pg):
    env = dict(os.environ, TESSERA_BIN=str(tree / "build" / "tessera"))
    for k in ("TESSERA_TEST_PG_URL", "TESSERA_TEST_PG_DIR", "TESSERA_SANITIZED"):
        env.pop(k, None)
    if m.get("pg"):
        env.update(TESSERA_TEST_PG_URL=pg[1], TESSERA_TEST_PG_DIR=pg[0])
    return env


def plant(tree, m):
    """Writes the mutated file; returns its original text."""
    path = tree / m["file"]
    text = path.read_text()
    n = text.count(m["find"])
    if n != 1:
        raise ValueError(f"{m['id']}: snippet found {n} times in {m['file']} (must be exactly once)")
    path.write_text(text.replace(m["find"], m["replace"], 1))
    return text


def restore(tree, m, text):
    path = tree / m["file"]
    path.write_text(text)
    os.utime(path)  # newer than the mutated object: make rebuilds it


def start_pg(tree):
    d = tempfile.mkdtemp(prefix="tessera-mutate-pg.")
    rc, out, _ = run(["bash", "scripts/pg-cluster.sh", "start", d], tree, timeout=120)
    if rc != 0:
        sys.exit(f"mutate: could not start PostgreSQL:\n{out}")
    return d, out.strip().splitlines()[-1]


def stop_pg(tree, pg):
    run(["bash", "scripts/pg-cluster.sh", "stop", pg[0]], tree, timeout=120)
    shutil.rmtree(pg[0], ignore_errors=True)


def one(tree, m, pg, verbose):
    """'killed', 'survived' or 'error', with a short reason."""
    try:
        original = plant(tree, m)
    except ValueError as e:
        return "error", str(e), 0.0
    try:
        ok, out = build(tree)
        if not ok:
            return "error", "does not compile:\n" + out[-2000:], 0.0
        if m.get("unit"):
            rc, out, took = run(["make", "-j2", "--no-print-directory", "build/unit-tests"], tree)
            if rc != 0:
                return "error", "unit tests do not compile:\n" + out[-2000:], took
            rc, out, took = run([str(tree / "build" / "unit-tests")], tree, timeout=TEST_TIMEOUT)
            if rc != 0:
                return "killed", "unit tests: " + (out.strip().splitlines() or [""])[-1], took
        rc, out, took = run(pytest_cmd(m), tree, env=test_env(tree, m, pg), timeout=TEST_TIMEOUT)
        if verbose:
            print(out)
        last = out.strip().splitlines()[-1] if out.strip() else ""
        if rc is None:
            return "killed", f"tests hung past {TEST_TIMEOUT} s", took
        if rc == 0:
            return "survived", last, took
        if rc in (1, 2) or rc < 0:  # failed, interrupted (-x), or the server crashed
            return "killed", last, took
        return "error", f"pytest exited {rc}: {last}", took
    finally:
        restore(tree, m, original)


def main():
    # SIGTERM unwinds like Ctrl-C: the copy is removed and PostgreSQL stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="comma-separated mutation ids")
    ap.add_argument("--list", action="store_true", help="print the mutations and exit")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip checking that the named tests pass on the unmutated tree")
    ap.add_argument("-v", "--verbose", action="store_true", help="show pytest's output")
    args = ap.parse_args()
    muts = load(args.only)
    if args.list:
        for m in muts:
            print(f"{m['id']:<28} {m['file']:<24} {m['why']}")
        return 0

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tessera-mutate.") as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        for name in COPY:
            src = REPO / name
            if src.is_dir():
                shutil.copytree(src, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
            elif src.exists():
                shutil.copy2(src, tree / name)
        if (REPO / "build").is_dir():  # objects reused: each mutation rebuilds one file
            shutil.copytree(REPO / "build", tree / "build", symlinks=True)
        ok, out = build(tree)
        if not ok:
            print(out[-3000:])
            sys.exit("mutate: the unmutated tree does not build")
        pg = start_pg(tree) if any(m.get("pg") for m in muts) else None
        try:
            if not args.no_baseline:
                bad = baseline(tree, muts, pg)
                if bad:
                    sys.exit(f"mutate: these selections fail on the unmutated tree: {bad}")
            results = []
            for i, m in enumerate(muts, 1):
                verdict, why, took = one(tree, m, pg, args.verbose)
                results.append((m, verdict, why, took))
                print(f"[{i}/{len(muts)}] {verdict:<8} {m['id']:<40} {took:6.1f}s  {m['why']}", flush=True)
                if verdict != "killed":
                    print(f"           {why}", flush=True)
        finally:
            if pg:
                stop_pg(tree, pg)
        build(tree)  # leave nothing mutated behind, even in the copy

    counts = {v: sum(1 for r in results if r[1] == v) for v in ("killed", "survived", "error")}
    print()
    width = max([len("mutation")] + [len(m["id"]) for m, *_ in results])
    print(f"{'mutation':<{width}}  {'result':<9} file")
    for m, verdict, _why, _t in results:
        print(f"{m['id']:<{width}}  {verdict:<9} {m['file']}")
    print(f"mutate: {counts['killed']} killed, {counts['survived']} survived, {counts['error']} errors "
          f"of {len(results)} in {time.monotonic() - started:.0f} s")
    return 0 if counts["survived"] == 0 and counts["error"] == 0 else 1


def baseline(tree, muts, pg):
    """The selections must pass unmutated, or a 'killed' would mean nothing."""
    bad = []
    seen = set()
    for m in muts:
        key = (tuple(m["tests"]), m.get("k"), bool(m.get("pg")))
        if key in seen:
            continue
        seen.add(key)
        rc, out, took = run(pytest_cmd(m), tree, env=test_env(tree, m, pg), timeout=TEST_TIMEOUT)
        print(f"baseline {'ok' if rc == 0 else 'FAILED':<6} {took:6.1f}s  {' '.join(pytest_cmd(m)[6:])}",
              flush=True)
        if rc != 0:
            print(out[-3000:])
            bad.append(m["id"])
    return bad


if __name__ == "__main__":
    sys.exit(main())
