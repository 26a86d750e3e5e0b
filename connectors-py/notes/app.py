"""The `notes` connector: a TameFlare connector written in Python.

Classifies requests to a hypothetical internal notes API on
`notes.internal.test` into one of five actions. Built into a WebAssembly
component with componentize-py (see ../build.sh); the host loads it exactly
like the Rust connectors.
"""

import re

import wit_world
from componentize_py_types import Err
from wit_world.imports import log
from wit_world.imports.types import (
    Action,
    ActionSpec,
    ClassifyError,
    CredentialPlacement_Header,
    Descriptor,
    HeaderPlacement,
    Param,
    ParamValue,
    ParamValue_Integer,
    ParamValue_Text,
    Request,
    Risk,
)

NAME = "notes"
VERSION = "0.1.0"
DOMAIN = "notes.internal.test"

# (name, method, path template, risk, read-only, description)
ROUTES = [
    ("notes.note.list", "GET", "/v1/notes", Risk.LOW, True, "List notes."),
    ("notes.note.get", "GET", "/v1/notes/{id}", Risk.LOW, True, "Read one note."),
    ("notes.note.create", "POST", "/v1/notes", Risk.MEDIUM, False, "Create a note."),
    ("notes.note.update", "PATCH", "/v1/notes/{id}", Risk.MEDIUM, False, "Edit a note."),
    ("notes.note.delete", "DELETE", "/v1/notes/{id}", Risk.HIGH, False, "Delete a note."),
]

METHODS = {method for _, method, _, _, _, _ in ROUTES}

# Same rule as the Rust SDK's `ParamValue::infer` (`str::parse::<i64>`).
INTEGER = re.compile(r"[+-]?[0-9]+")
S64_MIN, S64_MAX = -(2**63), 2**63 - 1


def match_template(template: str, path: str) -> dict[str, str] | None:
    """The `{name}` captures of `template` in `path`, or None if it does not match."""
    want = template.split("/")
    got = path.split("/")
    if len(want) != len(got):
        return None
    captures = {}
    for w, g in zip(want, got):
        if w.startswith("{") and w.endswith("}"):
            if not g:
                return None
            captures[w[1:-1]] = g
        elif w != g:
            return None
    return captures


def param_value(text: str) -> ParamValue:
    if INTEGER.fullmatch(text):
        number = int(text)
        if S64_MIN <= number <= S64_MAX:
            return ParamValue_Integer(number)
    return ParamValue_Text(text)


def reject(code: str, message: str) -> Err:
    return Err(ClassifyError(code=code, message=message))


class WitWorld(wit_world.WitWorld):
    def describe(self) -> Descriptor:
        return Descriptor(
            name=NAME,
            version=VERSION,
            domains=[DOMAIN],
            actions=[
                ActionSpec(
                    name=name,
                    description=description,
                    method=method,
                    path_template=template,
                    risk=risk,
                    read_only=read_only,
                )
                for name, method, template, risk, read_only, description in ROUTES
            ],
            placement=CredentialPlacement_Header(
                HeaderPlacement(name="authorization", template="Bearer {secret}")
            ),
            needs_body=False,
        )

    def classify(self, request: Request) -> Action:
        if request.method not in METHODS:
            raise reject("unsupported_method", f"the notes API has no {request.method} requests")
        for name, method, template, risk, _, _ in ROUTES:
            if method != request.method:
                continue
            captures = match_template(template, request.path)
            if captures is None:
                continue
            resource = "/".join([NAME, *captures.values()])
            params = [Param(name=k, value=param_value(v)) for k, v in captures.items()]
            return Action(name=name, resource=resource, params=params, risk=risk, parts=[])
        log.log(log.Level.DEBUG, f"no notes route for {request.method} {request.path}")
        raise reject("unknown_route", f"no notes action for {request.method} {request.path}")
