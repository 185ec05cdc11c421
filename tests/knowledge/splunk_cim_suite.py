"""pytest-splunk-addon's field, CIM and requirement tests for this add-on, for a REAL Splunk.

Not collected by the offline run (the name is not test_*.py); run it explicitly as docs/cim.md
shows. Needs `pip install pytest-splunk-addon` and a Splunk with Splunk_SA_CIM and the add-on.
"""
from pytest_splunk_addon.standard_lib.addon_basic import Basic


class Test_OpenAI_Audit(Basic):
    """The plugin generates the tests from the add-on's confs and tests/knowledge samples."""
