"""Parsers that turn files into policy inputs, keeping the source line of every field."""

from pipeline.inputs.model import FieldPath, InputProblem, PolicyInput
from pipeline.inputs.structured import load_structured_documents

__all__ = ["FieldPath", "InputProblem", "PolicyInput", "load_structured_documents"]
