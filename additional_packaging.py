"""UCC build hook: ship the release notes, prune what the build leaves in the add-on and set
permissions.

ucc-gen imports this module after `ucc-gen build` and calls `cleanup_output_files` (and
`additional_packaging`, which we do not need). Splunk Cloud and AppInspect reject compiled Python,
and the console scripts pip writes to lib/bin point at the build machine's interpreter. The
project's CHANGELOG.md is the add-on's RELEASE_NOTES.md (app.manifest releaseNotes points at it).
"""
import os
import shutil
import stat

# Directories pip leaves in lib/ that the add-on never uses.
PRUNED_LIB_DIRS = ("bin", "__pycache__")
EXECUTABLE_DIRS = ("bin",)
CHANGELOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "CHANGELOG.md")
RELEASE_NOTES = "RELEASE_NOTES.md"


def _prune(app_dir):
    lib = os.path.join(app_dir, "lib")
    for name in PRUNED_LIB_DIRS:
        shutil.rmtree(os.path.join(lib, name), ignore_errors=True)
    # test suites some libraries ship inside their package (certifi/tests, ...)
    for package in os.listdir(lib):
        shutil.rmtree(os.path.join(lib, package, "tests"), ignore_errors=True)
    for root, dirs, files in os.walk(app_dir):
        for d in [d for d in dirs if d == "__pycache__"]:
            shutil.rmtree(os.path.join(root, d))
            dirs.remove(d)
        for f in files:
            if f.endswith((".pyc", ".pyo", ".so", ".pyd", ".dylib")):
                os.remove(os.path.join(root, f))


def _fix_permissions(app_dir):
    """Directories 755, files 644, scripts directly under bin/ 755: what Splunk expects."""
    for root, dirs, files in os.walk(app_dir):
        os.chmod(root, 0o755)
        top = os.path.relpath(root, app_dir).split(os.sep)[0]
        for f in files:
            path = os.path.join(root, f)
            executable = top in EXECUTABLE_DIRS and root == os.path.join(app_dir, top) and f.endswith((".py", ".sh"))
            os.chmod(path, 0o755 if executable else 0o644)
            assert not os.stat(path).st_mode & stat.S_ISUID


def cleanup_output_files(output_path, ta_name):
    app_dir = os.path.join(output_path, ta_name)
    shutil.copyfile(CHANGELOG, os.path.join(app_dir, RELEASE_NOTES))
    _prune(app_dir)
    _fix_permissions(app_dir)
