"""tools/appinspect_gate.py (run by `make inspect`, itself run by `make test`): one AppInspect run
per Splunk Cloud tag, and the gate fails on any failure, error or future_failure of any run."""
import pytest

from tools import appinspect_gate as gate


def report(*results):
    return {"reports": [{"groups": [{"checks": [
        {"name": "check_%d" % i, "result": r, "messages": [{"message": "why %d" % i}]} for i, r in enumerate(results)
    ]}]}]}


@pytest.fixture
def runs(monkeypatch):
    """The tags AppInspect was run with; each run answers what ``results[tag]`` holds."""
    results = {tag: report("success", "warning", "not_applicable") for tag in gate.TAGS}
    seen = []

    def fake_inspect(package, tag, report_path):
        seen.append(tag)
        return results[tag]

    monkeypatch.setattr(gate, "inspect", fake_inspect)
    return results, seen


def test_every_cloud_vetting_tag_is_run():
    assert set(gate.TAGS) == {"cloud", "private_victoria", "private_classic", "future"}


def test_warnings_pass_the_gate(runs, tmp_path, capsys):
    results, seen = runs
    assert gate.main("app.spl", str(tmp_path)) == 0
    assert seen == list(gate.TAGS)
    assert "AppInspect private_classic: failure=0, error=0, future_failure=0, warning=1" in capsys.readouterr().out


@pytest.mark.parametrize("tag", gate.TAGS)
@pytest.mark.parametrize("result", gate.FATAL)
def test_a_fatal_result_under_any_tag_fails_the_gate(runs, tmp_path, capsys, tag, result):
    results, seen = runs
    results[tag] = report("success", result)
    assert gate.main("app.spl", str(tmp_path)) == 1
    assert seen == list(gate.TAGS)  # the other tags still ran and reported
    assert "[%s] %s: check_1" % (tag, result) in capsys.readouterr().out


def test_a_run_without_a_report_fails_the_gate(runs, tmp_path):
    results, _ = runs
    results["future"] = None
    assert gate.main("app.spl", str(tmp_path)) == 1
