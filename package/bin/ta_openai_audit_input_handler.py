"""REST handler of the openai_audit_logs input (UCC: restHandlerModule/restHandlerClass):
validates the fields with the engine's own parser before an input is saved, refuses to move an
existing input to another account (its checkpoint is a position in one organization's audit log),
and deletes the input's checkpoint records (its full stanza name, and that plus ":tenant") when it
is deleted, so a new input of the same name starts afresh instead of resuming an old position."""
from __future__ import annotations

import import_declare_test  # noqa: F401  (UCC: puts the add-on's lib/ first on sys.path)

from typing import Any, Dict

from splunktaucclib.rest_handler.admin_external import AdminExternalHandler, get_splunkd_endpoint
from splunktaucclib.rest_handler.error import RestError

import ta_openai_audit_splunk as splunk_side
from ta_openai_audit.errors import CollectorError, ConfigurationError
from ta_openai_audit.settings import InputSettings


def validate_fields(fields: Dict[str, Any]) -> None:
    try:
        InputSettings.from_stanza(fields)
    except ConfigurationError as exc:
        raise RestError(400, "The input was not saved: %s" % exc) from None


def refuse_account_change(name: str, stored: Any, requested: Any) -> None:
    stored, requested = str(stored or "").strip(), str(requested or "").strip()
    if requested and requested != stored:
        raise RestError(400, "The input was not saved: its account cannot be changed from %s to %s, because the "
                             "input's checkpoint is a position in the audit log of %s's organization. Create a new "
                             "input for %s (and delete %s if it is no longer needed)." % (stored, requested, stored,
                                                                                         requested, name))


class InputHandler(AdminExternalHandler):
    def handleCreate(self, confInfo):  # noqa: N802,N803 (splunk.admin's names)
        validate_fields(self.payload)
        AdminExternalHandler.handleCreate(self, confInfo)

    def handleEdit(self, confInfo):  # noqa: N802,N803
        if self.payload.get("disabled") is None:
            # An edit may carry only the changed fields: validate them with the stored ones.
            fields: Dict[str, Any] = {}
            for entity in self.handler.get(self.callerArgs.id):
                fields.update(entity.content)
            refuse_account_change(self.callerArgs.id, fields.get("account"), self.payload.get("account"))
            fields.update(self.payload)
            validate_fields(fields)
        AdminExternalHandler.handleEdit(self, confInfo)

    def handleRemove(self, confInfo):  # noqa: N802,N803
        # Checkpoint first: if the KV store cannot delete it, the input stays and the admin
        # retries, rather than leaving a checkpoint a future input of this name would resume.
        name = self.callerArgs.id
        logger = splunk_side.get_logger("rest_handler")
        list(self.handler.get(name))  # RestError 404 for an unknown input, before touching the KV store
        try:
            location = splunk_side.splunkd_location(get_splunkd_endpoint())
            splunk_side.delete_checkpoints(self.getSessionKey(), location, splunk_side.input_checkpoint_keys(name))
        except CollectorError as exc:
            splunk_side.log_collector_error(logger, exc, "input %s not deleted: " % name)
            raise RestError(503, "The input %s was not deleted: %s. Try again in a minute." % (name, exc)) from None
        logger.info("input %s: checkpoint records %s deleted", name, ", ".join(splunk_side.input_checkpoint_keys(name)))
        AdminExternalHandler.handleRemove(self, confInfo)
