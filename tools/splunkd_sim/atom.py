"""Rendering of splunkd's two response formats for entity endpoints.

splunkd answers entity endpoints (configs/conf-*, properties, storage/passwords,
storage/collections/config, data/inputs) with an Atom feed by default, and with the same
information as JSON when the request carries ``output_mode=json``. Both shapes follow the
REST API reference ("REST API User Manual: Atom Feed responses" and "output_mode"):
a feed has title/id/updated/generator/author/links, opensearch paging and messages; every
entry has title (name), id, updated, links (alternate/list/edit/remove), author and a
content dictionary whose ``eai:acl`` holds the access control list. In JSON the ACL is the
entry's ``acl`` member and paging is ``paging: {total, perPage, offset}``.
"""
from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

GENERATOR = {"build": "sim", "version": "9.3.0"}

_ATOM_NS = (
    'xmlns="http://www.w3.org/2005/Atom" '
    'xmlns:s="http://dev.splunk.com/ns/rest" '
    'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"'
)


def iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def acl(app: str, owner: str = "nobody", sharing: str = "app") -> Dict[str, Any]:
    """The eai:acl dictionary splunkd attaches to every entity."""
    return {
        "app": app,
        "can_change_perms": "1",
        "can_list": "1",
        "can_share_app": "1",
        "can_share_global": "1",
        "can_share_user": "0",
        "can_write": "1",
        "modifiable": "1",
        "owner": owner,
        "perms": {"read": ["*"], "write": ["admin"]},
        "removable": "1",
        "sharing": sharing,
    }


class Entry:
    """One entity as splunkd lists it."""

    def __init__(self, name: str, base_path: str, content: Dict[str, Any], acl_dict: Dict[str, Any],
                 author: str = "nobody", removable: bool = True, editable: bool = True):
        self.name = name
        # base_path: the collection's absolute path, e.g. /servicesNS/nobody/app/storage/passwords
        self.path = base_path.rstrip("/") + "/" + quote(name, safe="")
        self.base_path = base_path
        self.content = content
        self.acl = acl_dict
        self.author = author
        self.removable = removable
        self.editable = editable

    def links(self) -> Dict[str, str]:
        links = {"alternate": self.path, "list": self.path}
        if self.editable:
            links["edit"] = self.path
        if self.removable:
            links["remove"] = self.path
        return links


# ---------------------------------------------------------------------------------------- XML
def _xml_value(value: Any) -> str:
    if isinstance(value, dict):
        inner = "".join(
            "<s:key name=%s>%s</s:key>" % (quoteattr(str(k)), _xml_value(v)) for k, v in value.items()
        )
        return "<s:dict>%s</s:dict>" % inner
    if isinstance(value, (list, tuple)):
        return "<s:list>%s</s:list>" % "".join("<s:item>%s</s:item>" % _xml_value(v) for v in value)
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "1" if value else "0"
    return escape(str(value))


def _xml_entry(origin: str, entry: Entry) -> str:
    content = dict(entry.content)
    content["eai:acl"] = entry.acl
    links = "".join(
        "<link href=%s rel=%s/>" % (quoteattr(href), quoteattr(rel)) for rel, href in entry.links().items()
    )
    return (
        "<entry><title>%s</title><id>%s</id><updated>%s</updated>%s"
        "<author><name>%s</name></author>"
        '<content type="text/xml">%s</content></entry>'
        % (escape(entry.name), escape(origin + entry.path), iso_now(), links, escape(entry.author),
           _xml_value(content))
    )


def feed_xml(origin: str, title: str, base_path: str, entries: List[Entry], total: int, offset: int,
             per_page: int, messages: Optional[List[Dict[str, str]]] = None) -> str:
    msgs = "".join(
        "<s:msg type=%s>%s</s:msg>" % (quoteattr(m["type"]), escape(m["text"])) for m in (messages or [])
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed %s><title>%s</title><id>%s</id><updated>%s</updated>'
        '<generator build=%s version=%s/><author><name>Splunk</name></author>'
        '<link href=%s rel="create"/>'
        "<opensearch:totalResults>%d</opensearch:totalResults>"
        "<opensearch:itemsPerPage>%d</opensearch:itemsPerPage>"
        "<opensearch:startIndex>%d</opensearch:startIndex>"
        "<s:messages>%s</s:messages>%s</feed>"
        % (_ATOM_NS, escape(title), escape(origin + base_path), iso_now(), quoteattr(GENERATOR["build"]),
           quoteattr(GENERATOR["version"]), quoteattr(base_path.rstrip("/") + "/_new"), total, per_page,
           offset, msgs, "".join(_xml_entry(origin, e) for e in entries))
    )


def error_xml(messages: List[Dict[str, str]]) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>\n<response><messages>%s</messages></response>' % "".join(
        "<msg type=%s>%s</msg>" % (quoteattr(m["type"]), escape(m["text"])) for m in messages
    )


# --------------------------------------------------------------------------------------- JSON
def _json_entry(origin: str, entry: Entry) -> Dict[str, Any]:
    return {
        "name": entry.name,
        "id": origin + entry.path,
        "updated": iso_now(),
        "links": entry.links(),
        "author": entry.author,
        "acl": entry.acl,
        "content": dict(entry.content),
    }


def feed_json(origin: str, title: str, base_path: str, entries: List[Entry], total: int, offset: int,
              per_page: int, messages: Optional[List[Dict[str, str]]] = None) -> str:
    return json.dumps({
        "links": {"create": base_path.rstrip("/") + "/_new"},
        "origin": origin + base_path,
        "updated": iso_now(),
        "generator": GENERATOR,
        "entry": [_json_entry(origin, e) for e in entries],
        "paging": {"total": total, "perPage": per_page, "offset": offset},
        "messages": messages or [],
    })


def error_json(messages: List[Dict[str, str]]) -> str:
    return json.dumps({"messages": messages})
