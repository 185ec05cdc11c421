"""REST handler of the account tab (UCC: restHandlerModule/restHandlerClass): before an account
is saved, one ``limit=1`` request with its key, base URL, CA bundle and the proxy settings. A key
OpenAI rejects (401), a key without the audit log permission (403), a certificate that does not
verify or an unreachable API refuse the save with a message that says what to fix. An account
that inputs still read with cannot be deleted: the refusal names them."""
from __future__ import annotations

import import_declare_test  # noqa: F401  (UCC: puts the add-on's lib/ first on sys.path)

from typing import Any, Dict, Optional

from splunktaucclib.rest_handler.admin_external import AdminExternalHandler, get_splunkd_endpoint
from splunktaucclib.rest_handler.error import RestError

import ta_openai_audit_splunk as splunk_side
from ta_openai_audit.client import AuditLogClient
from ta_openai_audit.errors import CollectorError
from ta_openai_audit.proxy import proxy_url_from_settings
from ta_openai_audit.settings import validate_base_url

PROBE_CONNECT_TIMEOUT = 10
PROBE_READ_TIMEOUT = 20


def check_account(payload: Dict[str, Any], session_key: str, splunkd_uri: str,
                  account_name: Optional[str] = None) -> None:
    """Raise RestError(400, why) unless the account can read the audit log. ``account_name``
    (on edit) lets an unchanged, masked key be read from the password store."""
    logger = splunk_side.get_logger("rest_handler")
    try:
        base_url = validate_base_url((payload.get("base_url") or splunk_side.DEFAULT_BASE_URL).strip())
        location = splunk_side.splunkd_location(splunkd_uri)
        api_key = payload.get("api_key") or ""
        if (not api_key or api_key == splunk_side.ENCRYPTED_PLACEHOLDER) and account_name:
            api_key = splunk_side.read_account(session_key, location, account_name)["api_key"]
        splunk_side.REDACTOR.add(api_key)
        _level, proxy = splunk_side.read_settings(session_key, location)
        client = AuditLogClient(
            base_url,
            api_key,
            proxy_url=proxy_url_from_settings(proxy),
            ca_bundle=(payload.get("ca_bundle_path") or "").strip() or None,
            connect_timeout=PROBE_CONNECT_TIMEOUT,
            read_timeout=PROBE_READ_TIMEOUT,
            logger=logger,
        )
        try:
            client.probe()
        finally:
            client.close()
    except CollectorError as exc:
        message = splunk_side.REDACTOR.redact(str(exc))
        logger.warning("account %r not saved (%s): %s", account_name or "", exc.category, message)
        raise RestError(400, "The account was not saved: %s" % message) from None


class AccountHandler(AdminExternalHandler):
    def handleCreate(self, confInfo):  # noqa: N802,N803 (splunk.admin's names)
        check_account(self.payload, self.getSessionKey(), get_splunkd_endpoint())
        AdminExternalHandler.handleCreate(self, confInfo)

    def handleEdit(self, confInfo):  # noqa: N802,N803
        if self.payload.get("disabled") is None:  # enabling/disabling changes no credential
            check_account(self.payload, self.getSessionKey(), get_splunkd_endpoint(),
                          account_name=self.callerArgs.id)
        AdminExternalHandler.handleEdit(self, confInfo)

    def handleRemove(self, confInfo):  # noqa: N802,N803
        name = self.callerArgs.id
        try:
            location = splunk_side.splunkd_location(get_splunkd_endpoint())
            users = splunk_side.inputs_of_account(self.getSessionKey(), location, name)
        except Exception as exc:  # splunkd unreachable: keep the account rather than orphan inputs
            raise RestError(503, "The account %s was not deleted: its inputs could not be listed (%s). Try again "
                                 "in a minute." % (name, splunk_side.describe_splunkd_error(exc))) from None
        if users:
            raise RestError(409, "The account %s was not deleted: the input%s %s still read%s with it. Delete %s "
                                 "first (a new input of another account starts its own checkpoint)."
                            % (name, "s" if len(users) > 1 else "", ", ".join(users), "" if len(users) > 1 else "s",
                               "them" if len(users) > 1 else "it"))
        AdminExternalHandler.handleRemove(self, confInfo)
