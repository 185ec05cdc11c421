"""Run Splunk AppInspect (precert mode) on a package once per Splunk Cloud tag and gate on the verdicts.

Usage: python tools/appinspect_gate.py PACKAGE.spl REPORT_DIR

One run per tag, because some checks behave according to the tags they were selected with: `cloud`
(Splunkbase apps for Splunk Cloud), `private_victoria` and `private_classic` (the vetting of a
private app uploaded to a Victoria or Classic Experience stack) and `future` (checks that will
become failures in a coming AppInspect release). Reports: REPORT_DIR/appinspect-<tag>.json.
Exits 1 when any run reports a failure, error or future_failure; warnings are listed but do not
fail the gate (most come from the vendored solnlib/splunktaucclib and UCC's UI bundle).
Tags and the number of checks each selects: `splunk-appinspect list tags`.
"""
import json
import os
import subprocess
import sys

TAGS = ("cloud", "private_victoria", "private_classic", "future")
FATAL = ("failure", "error", "future_failure")


def summarize(report):
    """{result: [check, ...]} over every check of an AppInspect JSON report."""
    by_result = {}
    for app in report["reports"]:
        for group in app["groups"]:
            for check in group["checks"]:
                by_result.setdefault(check["result"], []).append(check)
    return by_result


def inspect(package, tag, report_path):
    """Run AppInspect with one tag; the parsed report, or None when it produced none."""
    appinspect = os.path.join(os.path.dirname(sys.executable), "splunk-appinspect")
    cmd = [appinspect, "inspect", package, "--mode", "precert", "--included-tags", tag,
           "--data-format", "json", "--output-file", report_path]
    if os.path.exists(report_path):
        os.remove(report_path)
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if not os.path.exists(report_path):
        sys.stderr.write(proc.stderr)
        print("appinspect --included-tags %s produced no report (exit %d)" % (tag, proc.returncode))
        return None
    with open(report_path) as fh:
        return json.load(fh)


def main(package, report_dir):
    os.makedirs(report_dir, exist_ok=True)
    failed = False
    for tag in TAGS:
        report = inspect(package, tag, os.path.join(report_dir, "appinspect-%s.json" % tag))
        if report is None:
            failed = True
            continue
        by_result = summarize(report)
        for result in FATAL + ("warning",):
            for check in by_result.get(result, []):
                print("[%s] %s: %s" % (tag, result, check["name"]))
                for message in check["messages"][:5]:
                    print("    " + message.get("message", "").splitlines()[0][:240])
        print("AppInspect %s: %s" % (tag, ", ".join(
            "%s=%d" % (k, len(by_result.get(k, [])))
            for k in FATAL + ("warning", "success", "not_applicable"))))
        failed = failed or any(by_result.get(k) for k in FATAL)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
