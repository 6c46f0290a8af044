"""Tools Qwen may call during a turn: the registry (`registry`), the built-ins (`calculator`, `clock`) and
the runner that runs one call with a timeout and an output cap (`runner`). Importing the package registers
the built-ins."""

from qwenchat.tools import calculator, clock  # noqa: F401 - each registers its tool
from qwenchat.tools.registry import REGISTRY, Tool, ToolContext, ToolError, chosen, defaults, register, schemas

__all__ = ["REGISTRY", "Tool", "ToolContext", "ToolError", "chosen", "defaults", "register", "schemas"]
