"""Stand-in for Splunk's private ``splunk.admin`` module (the EAI handler framework), enough to
run a UCC REST handler script (``admin_external.handle(endpoint, handler=...)``) as a process.

The parts used are the documented MConfigHandler surface: ``requestedAction``, ``callerArgs``
(``id`` and ``data``: each argument a list of values), ``supportedArgs`` (``addReqArg`` /
``addOptArg``), ``getSessionKey()``, ``setup()`` then ``handleList/Create/Edit/Remove(confInfo)``,
and the action and exception names. How the request reaches the handler is this stand-in's own,
simple protocol (splunkd's is internal): ``init()`` reads one JSON object from stdin::

    {"action": "create|edit|list|remove", "id": "<entity name>", "data": {"field": "value"},
     "session_key": "..."}

and prints one JSON object: ``{"status": 200, "entries": {name: {field: value}}}`` or
``{"status": <code>, "message": "..."}``. Like splunkd, an argument the handler did not declare
in ``setup()`` is refused, and so is a missing required one. The session key is also left in
``__main__.___sessionKey``, where code running under splunkd finds it.
"""
from __future__ import annotations

import json
import sys

ACTION_CREATE = 1
ACTION_LIST = 2
ACTION_EDIT = 4
ACTION_REMOVE = 8
ACTION_MEMBERS = 16
ACTION_RELOAD = 32

CONTEXT_NONE = 0
CONTEXT_APP_ONLY = 1
CONTEXT_APP_AND_USER = 2

EAI_ENTRY_ACL = "eai:acl"

_ACTIONS = {"create": ACTION_CREATE, "list": ACTION_LIST, "edit": ACTION_EDIT, "remove": ACTION_REMOVE}
_METHODS = {ACTION_CREATE: "handleCreate", ACTION_LIST: "handleList", ACTION_EDIT: "handleEdit",
            ACTION_REMOVE: "handleRemove"}


class AdminManagerException(Exception):
    status = 500


class ArgValidationException(AdminManagerException):
    status = 400


class BadActionException(AdminManagerException):
    status = 400


class NotFoundException(AdminManagerException):
    status = 404


class AlreadyExistsException(AdminManagerException):
    status = 409


class PermissionsException(AdminManagerException):
    status = 403


class InternalException(AdminManagerException):
    status = 500


class ServiceUnavailableException(AdminManagerException):
    status = 503


class HandlerSetupException(AdminManagerException):
    status = 500


class BadProgrammerException(AdminManagerException):
    status = 500


class CallerArgs:
    def __init__(self, entity_id, data):
        self.id = entity_id
        self.data = data


class SupportedArgs:
    def __init__(self):
        self.required = []
        self.optional = []

    def addReqArg(self, name):  # noqa: N802 (Splunk's method names)
        self.required.append(name)

    def addOptArg(self, name):  # noqa: N802
        self.optional.append(name)


class ConfItem(dict):
    def __init__(self):
        super().__init__()
        self.metadata = {}

    def setMetadata(self, key, value):  # noqa: N802
        self.metadata[key] = value


class ConfInfo(dict):
    def __getitem__(self, name):
        if name not in self:
            dict.__setitem__(self, name, ConfItem())
        return dict.__getitem__(self, name)


_request = {}


class MConfigHandler:
    def __init__(self, scriptMode=None, ctxInfo=None, *args, **kwargs):  # noqa: N803
        self.requestedAction = _ACTIONS[_request["action"]]
        data = {k: (v if isinstance(v, list) else [v]) for k, v in (_request.get("data") or {}).items()}
        self.callerArgs = CallerArgs(_request.get("id"), data)
        self.supportedArgs = SupportedArgs()
        self.appName = _request.get("app", "")
        self.userName = "nobody"
        self._session_key = _request.get("session_key", "")

    def getSessionKey(self):  # noqa: N802
        return self._session_key

    def setup(self):
        pass


def _check_args(handler):
    supported = set(handler.supportedArgs.required) | set(handler.supportedArgs.optional)
    if handler.requestedAction in (ACTION_CREATE, ACTION_EDIT):
        for name in handler.callerArgs.data:
            if name not in supported:
                raise ArgValidationException("Argument %s is not supported by this handler." % name)
    for name in handler.supportedArgs.required:
        if name not in handler.callerArgs.data:
            raise ArgValidationException("Missing argument: %s" % name)


def init(handler_class, ctxInfo=CONTEXT_NONE):  # noqa: N803
    global _request
    _request = json.load(sys.stdin)
    # splunkd's handler runner leaves the caller's session key here; splunktaucclib's index
    # name validator reads it from there.
    setattr(sys.modules["__main__"], "___sessionKey", _request.get("session_key", ""))
    try:
        handler = handler_class()
        handler.setup()
        _check_args(handler)
        conf_info = ConfInfo()
        getattr(handler, _METHODS[handler.requestedAction])(conf_info)
        result = {"status": 200, "entries": {name: dict(item) for name, item in conf_info.items()}}
    except Exception as exc:  # what splunkd would turn into the HTTP error response
        status = getattr(exc, "status", None) or getattr(exc, "statusCode", None) or 500
        message = getattr(exc, "message", None) or str(exc)
        result = {"status": int(status), "message": str(message), "type": type(exc).__name__}
    sys.stdout.write(json.dumps(result, default=str))
    sys.stdout.flush()
