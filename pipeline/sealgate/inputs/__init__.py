"""Parsers that turn files into policy inputs, keeping the source line of every field."""

from sealgate.inputs._model import FieldPath, InputProblem, PolicyInput
from sealgate.inputs._preview_steps import DesiredState, IncompletePreview, desired_state
from sealgate.inputs._pulumi_plan import normalize_inputs, plan_document, resource_document
from sealgate.inputs._structured import load_structured_documents

__all__ = [
    "DesiredState",
    "FieldPath",
    "IncompletePreview",
    "InputProblem",
    "PolicyInput",
    "desired_state",
    "load_structured_documents",
    "normalize_inputs",
    "plan_document",
    "resource_document",
]
