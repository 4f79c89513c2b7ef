"""Parsers that turn files into policy inputs, keeping the source line of every field."""

from sealgate.inputs._model import FieldPath, InputProblem, PolicyInput
from sealgate.inputs._structured import load_structured_documents

__all__ = ["FieldPath", "InputProblem", "PolicyInput", "load_structured_documents"]
