"""Judge an Odoo install + test log: print problems and a closing summary line.

Usage: summarize_log.py LOGFILE ODOO_EXIT_CODE

Exits non-zero when Odoo failed, a test failed or errored, no test ran, or the log
holds any WARNING, ERROR or CRITICAL record (a warning is a defect here, as in OCA CI).
"""

import re
import sys

RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (?P<level>[A-Z]+) ")
REPORT = re.compile(
    r"(?P<failed>\d+) failed, (?P<errors>\d+) error\(s\) of (?P<run>\d+) tests "
    r"when loading"
)
STARTING = re.compile(r" INFO \S+ odoo\.addons\.[\w.]+: Starting (?P<test>\S+) \.\.\.")


def main(path, odoo_rc):
    problems, report, tests = [], None, []
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            match = RECORD.match(line)
            if match and match["level"] in ("WARNING", "ERROR", "CRITICAL"):
                problems.append(line.rstrip())
            if found := REPORT.search(line):
                report = found
            if found := STARTING.search(line):
                tests.append(found["test"])
    print(
        f"{len(tests)} tests started; log records at WARNING or above: {len(problems)}"
    )
    for line in problems[:60]:
        print("  " + line[:400])
    if report is None:
        print("No test report in the log: Odoo stopped before running the tests.")
        print("0 passed, 1 failed")
        return 1
    run = int(report["run"])
    failed = int(report["failed"]) + int(report["errors"])
    ok = odoo_rc == 0 and failed == 0 and run > 0 and not problems
    if not run:
        print("No test ran.")
    if odoo_rc:
        print(f"Odoo exited with code {odoo_rc}.")
    if problems and not failed:
        # A warning fails the run; count it so the summary never reads as all green.
        failed = 1
        run += 1
    print(f"{run - failed} passed, {failed} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
