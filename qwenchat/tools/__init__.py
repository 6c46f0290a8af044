"""Tools Qwen may call during a turn: the registry (`registry`), the built-ins (`calculator`, `clock`, the knowledge base's `search_knowledge_base` in `knowledge`) and
the runner that runs one call with a timeout and an output cap (`runner`). Importing the package registers
the built-ins."""

from qwenchat.tools import calculator, clock, knowledge  # noqa: F401 - each registers its tool
from qwenchat.tools.registry import REGISTRY, Tool, ToolContext, ToolError, chosen, defaults, register, schemas

__all__ = ["REGISTRY", "Tool", "ToolContext", "ToolError", "chosen", "defaults", "register", "schemas"]
