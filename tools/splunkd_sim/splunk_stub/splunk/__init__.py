"""Stand-in for the ``splunk`` package that ships inside Splunk's own Python (never in an app).

Only what splunktaucclib's REST handler framework imports from it: ``RESTException`` here and
``splunk.admin`` (see admin.py). Put ``tools/splunkd_sim/splunk_stub`` on PYTHONPATH to run a
UCC REST handler script as a process outside splunkd; never shipped.
"""


class RESTException(Exception):
    def __init__(self, statusCode=500, msg=""):  # noqa: N803 (Splunk's argument names)
        super().__init__(msg)
        self.statusCode = statusCode
        self.msg = msg
