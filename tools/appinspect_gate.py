"""Run Splunk AppInspect (cloud tags, precert mode) on a package and gate on its verdict.

Usage: python tools/appinspect_gate.py PACKAGE.spl REPORT.json

Exits 1 when AppInspect reports any failure, error or future_failure; warnings are listed but do
not fail the gate (most come from the vendored solnlib/splunktaucclib and UCC's UI bundle).
"""
import json
import os
import subprocess
import sys

FATAL = ("failure", "error", "future_failure")


def main(package, report_path):
    appinspect = os.path.join(os.path.dirname(sys.executable), "splunk-appinspect")
    cmd = [appinspect, "inspect", package, "--mode", "precert", "--included-tags", "cloud",
           "--data-format", "json", "--output-file", report_path]
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if not os.path.exists(report_path):
        sys.stderr.write(proc.stderr)
        print("appinspect produced no report (exit %d)" % proc.returncode)
        return 1
    with open(report_path) as fh:
        report = json.load(fh)
    counts = {}
    by_result = {}
    for app in report["reports"]:
        for group in app["groups"]:
            for check in group["checks"]:
                counts[check["result"]] = counts.get(check["result"], 0) + 1
                by_result.setdefault(check["result"], []).append(check)
    for result in FATAL + ("warning",):
        for check in by_result.get(result, []):
            print("%s: %s" % (result, check["name"]))
            for message in check["messages"][:5]:
                print("    " + message.get("message", "").splitlines()[0][:240])
    summary = ", ".join("%s=%d" % (k, counts.get(k, 0))
                        for k in ("failure", "error", "future_failure", "warning", "success", "not_applicable"))
    print("AppInspect summary: " + summary)
    return 1 if any(counts.get(k) for k in FATAL) else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
