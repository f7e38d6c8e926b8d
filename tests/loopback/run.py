#!/usr/bin/env python3
"""Runs LoopBack 3's own client (tests/loopback/*.test.js) against a real
tessera: starts the binary ($TESSERA_BIN) with the models the suite declares
(models.json), on a fresh SQLite file, or on a fresh PostgreSQL database when
$TESSERA_TEST_PG_URL is set (the e2e suite's Server does both), runs
`node --test` with TESSERA_URL pointing at it, stops the server (it must exit 0
with no sanitizer report), and prints "N passed, N failed" last, which
tests/run.sh tallies.

The client's packages are in build/loopback-client/node_modules
(scripts/loopback-client.sh installs them from tests/loopback/package-lock.json).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from conftest import Server  # noqa: E402  (the e2e suite's launcher)

MODULES = REPO / "build" / "loopback-client" / "node_modules"


def main():
    if not (MODULES / "loopback").is_dir():
        print(f"loopback client not installed in {MODULES}: run scripts/loopback-client.sh", file=sys.stderr)
        return 2
    config = {"models": json.loads((HERE / "models.json").read_text())}
    with tempfile.TemporaryDirectory(prefix="tessera-lb.") as tmp:
        srv = Server(Path(tmp), config).start()
        try:
            env = dict(os.environ, TESSERA_URL=srv.base, NODE_PATH=str(MODULES))
            tests = sorted(str(p) for p in HERE.glob("*.test.js"))
            proc = subprocess.run(["node", "--test", "--test-reporter=tap", *tests], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
            out = proc.stdout.decode("utf-8", "replace")
            print(out, end="")
        finally:
            srv.stop()
            srv.drop_database()
    passed = re.findall(r"^# pass (\d+)$", out, re.M)
    failed = re.findall(r"^# fail (\d+)$", out, re.M)
    if not passed or not failed:
        print("tests/loopback/run.py: no summary from node --test", file=sys.stderr)
        return 1
    print(f"{passed[-1]} passed, {failed[-1]} failed")
    return 0 if proc.returncode == 0 and failed[-1] == "0" else 1


if __name__ == "__main__":
    sys.exit(main())
