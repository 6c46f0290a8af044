"""The `calculator` tool: exact arithmetic on an allow-listed syntax tree, never `eval`.

    evaluate("393*285")        # -> Fraction(112005)
    calculate("1/3 + 15%")     # -> "29/60 (≈ 0.483333333333)"

The expression is parsed by `ast` and only these nodes are walked: numbers, + - * / // % **, unary + and -,
parentheses, the names `pi` and `e`, and calls of the functions in `FUNCTIONS` with positional
arguments. Anything else (a name, an attribute, a subscript, a string, a lambda) is refused before any
work is done. Numbers are `Fraction`s, so integers of any size (up to `MAX_DIGITS` digits) and decimals
(0.1 + 0.2 == 0.3) are exact; irrational functions (sqrt of a non-square, sin, log) and fractional powers
give floats, marked with ≈. Percentages: `15%` at the end of an operand is 15/100 (`20% of 50` too);
`10 % 3` between two operands is the remainder. `^`, `×`, `÷` and full-width signs are read as the usual
operators.

Every bound is checked before the work it bounds: the length of the text, the number of nodes, the
nesting depth, the size of a power's result, the argument of a factorial. A problem is a `ToolError`
with a sentence the model can act on (division by zero, a power too large), never a crash.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from fractions import Fraction
from typing import Any, Callable

from qwenchat.tools.registry import Tool, ToolContext, ToolError, register

MAX_CHARS = 1_000
MAX_NODES = 300
MAX_DEPTH = 40
MAX_DIGITS = 4_000               # digits of any number met on the way (numerator and denominator)
MAX_BITS = int(MAX_DIGITS * 3.3219280948873626)  # the same bound in bits, checked before a power is taken
MAX_FACTORIAL = 1_000
DECIMALS = 12                    # digits after the point when a fraction is shown as a decimal

Number = Fraction | float

_TRANSLATE = str.maketrans({"×": "*", "÷": "/", "＋": "+", "－": "-", "−": "-", "（": "(", "）": ")", "，": ",",
                            "＊": "*", "／": "/", "％": "%", "＾": "^", "·": "*"})
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
# `15%` followed by the end, a closing bracket, a comma or an operator is a percentage.
_PERCENT = re.compile(rf"({_NUMBER})\s*%(?=\s*(?:$|[)+\-*/^,]|of\b))")
_OF = re.compile(r"\)\s*of\b")


def _prepare(text: str) -> str:
    text = text.translate(_TRANSLATE).replace("^", "**")
    text = _PERCENT.sub(r"(\1/100)", text)
    return _OF.sub(")*", text)  # "20% of 50" -> "(20/100)*50"


def _sqrt(x: Number) -> Number:
    if x < 0:
        raise ToolError("sqrt of a negative number is not a real number")
    if isinstance(x, Fraction):
        n, d = math.isqrt(x.numerator), math.isqrt(x.denominator)
        if n * n == x.numerator and d * d == x.denominator:
            return Fraction(n, d)
    return math.sqrt(x)


def _log(x: Number, base: Number | None = None) -> float:
    if x <= 0 or (base is not None and (base <= 0 or base == 1)):
        raise ToolError("log is defined for positive numbers (and a positive base other than 1)")
    return math.log(x) if base is None else math.log(x, base)


def _factorial(x: Number) -> Fraction:
    if not isinstance(x, Fraction) or x.denominator != 1 or x < 0:
        raise ToolError("factorial takes a whole number >= 0")
    if x > MAX_FACTORIAL:
        raise ToolError(f"factorial is limited to n <= {MAX_FACTORIAL}")
    return Fraction(math.factorial(int(x)))


def _whole(name: str, x: Number) -> int:
    if not isinstance(x, Fraction) or x.denominator != 1:
        raise ToolError(f"{name} takes whole numbers")
    return int(x)


def _round(x: Number, digits: Number = Fraction(0)) -> Number:
    places = _whole("round's second argument", digits)
    if abs(places) > 100:
        raise ToolError("round takes at most 100 digits")
    if isinstance(x, Fraction):  # half away from zero, as people round (Python's round is half to even)
        scale = Fraction(10) ** places
        magnitude = math.floor(abs(x) * scale + Fraction(1, 2))
        return Fraction(magnitude if x >= 0 else -magnitude) / scale
    return round(x, places)


def _float_fn(fn: Callable[[float], float]) -> Callable[[Number], float]:
    def call(x: Number) -> float:
        return fn(float(x))
    return call


FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int]] = {  # name -> (function, fewest, most arguments)
    "abs": (abs, 1, 1),
    "sqrt": (_sqrt, 1, 1),
    "round": (_round, 1, 2),
    "floor": (lambda x: Fraction(math.floor(x)), 1, 1),
    "ceil": (lambda x: Fraction(math.ceil(x)), 1, 1),
    "min": (min, 1, 50),
    "max": (max, 1, 50),
    "factorial": (_factorial, 1, 1),
    "gcd": (lambda *xs: Fraction(math.gcd(*(_whole("gcd", x) for x in xs))), 1, 50),
    "lcm": (lambda *xs: Fraction(math.lcm(*(_whole("lcm", x) for x in xs))), 1, 50),
    "log": (_log, 1, 2),
    "ln": (_log, 1, 1),
    "log10": (lambda x: _log(x, 10), 1, 1),
    "log2": (lambda x: _log(x, 2), 1, 1),
    "exp": (_float_fn(math.exp), 1, 1),
    "sin": (_float_fn(math.sin), 1, 1),
    "cos": (_float_fn(math.cos), 1, 1),
    "tan": (_float_fn(math.tan), 1, 1),
    "asin": (_float_fn(math.asin), 1, 1),
    "acos": (_float_fn(math.acos), 1, 1),
    "atan": (_float_fn(math.atan), 1, 1),
    "radians": (_float_fn(math.radians), 1, 1),
    "degrees": (_float_fn(math.degrees), 1, 1),
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


def _check_size(value: Number) -> Number:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ToolError("the result is too large (or not a number) for a float")
        return value
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise ToolError(f"a number on the way has more than {MAX_DIGITS} digits; the calculator stops there")
    return value


def _power(base: Number, exponent: Number) -> Number:
    if isinstance(exponent, Fraction) and exponent.denominator == 1 and isinstance(base, Fraction):
        n = int(exponent)
        if base == 0 and n < 0:
            raise ToolError("division by zero (0 to a negative power)")
        if abs(base) in (0, 1):
            return base ** n
        size = max(base.numerator.bit_length(), base.denominator.bit_length())
        if (size - 1) * abs(n) > MAX_BITS:
            raise ToolError(f"the power is too large: the result would have more than {MAX_DIGITS} digits")
        return base ** n
    # A fractional power, or a float on either side: a float result.
    if base < 0:
        raise ToolError("a negative number to a fractional power is not a real number")
    try:
        return float(base) ** float(exponent)
    except OverflowError:
        raise ToolError("the power is too large for a float") from None


def _divide(a: Number, b: Number) -> Number:
    if b == 0:
        raise ToolError("division by zero")
    return a / b


def _floordiv(a: Number, b: Number) -> Number:
    if b == 0:
        raise ToolError("division by zero")
    result = a // b
    return Fraction(result) if isinstance(result, int) else result


def _mod(a: Number, b: Number) -> Number:
    if b == 0:
        raise ToolError("modulo by zero")
    return a % b


BINARY: dict[type, Callable[[Number, Number], Number]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: _divide,
    ast.FloorDiv: _floordiv, ast.Mod: _mod, ast.Pow: _power,
}
UNARY: dict[type, Callable[[Number], Number]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


class _Evaluator:
    def __init__(self, source: str):
        self.source = source

    def value(self, node: ast.AST, depth: int = 0) -> Number:
        if depth > MAX_DEPTH:
            raise ToolError(f"the expression is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.Expression):
            return self.value(node.body, depth + 1)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ToolError("only numbers are allowed, not text or other values")
            literal = ast.get_source_segment(self.source, node) or repr(node.value)
            exponent = re.search(r"[eE]([+-]?\d+)$", literal)
            if exponent and abs(int(exponent.group(1))) > MAX_DIGITS:  # 1e999999999 is ten characters
                raise ToolError(f"a number on the way has more than {MAX_DIGITS} digits; the calculator stops there")
            try:
                return _check_size(Fraction(literal.replace("_", "")))
            except (ValueError, ZeroDivisionError):
                return _check_size(Fraction(node.value))
        if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
            left = self.value(node.left, depth + 1)
            right = self.value(node.right, depth + 1)
            try:
                return _check_size(BINARY[type(node.op)](left, right))
            except OverflowError:
                raise ToolError("the result is too large for a float") from None
        if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
            return UNARY[type(node.op)](self.value(node.operand, depth + 1))
        if isinstance(node, ast.Name) and node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS \
                and not node.keywords and not any(isinstance(a, ast.Starred) for a in node.args):
            function, fewest, most = FUNCTIONS[node.func.id]
            if not fewest <= len(node.args) <= most:
                raise ToolError(f"{node.func.id} takes {fewest}" + (f" to {most}" if most != fewest else "")
                                + " argument(s)")
            args = [self.value(a, depth + 1) for a in node.args]
            try:
                return _check_size(function(*args))
            except (ValueError, OverflowError) as exc:
                raise ToolError(f"{node.func.id}: {'result too large' if isinstance(exc, OverflowError) else 'math domain error'}") from None
        raise ToolError(f"not allowed in an expression: {_describe(node)}. Use numbers, + - * / // % ** "
                        f"(or ^), parentheses, pi, e and the functions {', '.join(FUNCTIONS)}")


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return f"the name {node.id!r}"
    if isinstance(node, ast.Attribute):
        return "attribute access"
    if isinstance(node, ast.Call):
        return "this function call"
    return type(node).__name__


def evaluate(expression: str) -> Number:
    """The exact value of `expression` (a float where it cannot be exact); a `ToolError` when it is refused."""
    if not isinstance(expression, str) or not expression.strip():
        raise ToolError("the expression is empty")
    if len(expression) > MAX_CHARS:
        raise ToolError(f"the expression is longer than {MAX_CHARS} characters")
    source = _prepare(expression.strip())
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ToolError(f"cannot read the expression {expression.strip()[:200]!r}: check its syntax") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ToolError(f"the expression has more than {MAX_NODES} parts")
    return _Evaluator(source).value(tree)


def _decimal(value: Fraction, places: int = DECIMALS) -> str:
    """`value` rounded to `places` digits after the point, trailing zeros dropped."""
    scaled = round(value * 10 ** places)
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    whole, fraction = digits[:-places], digits[-places:].rstrip("0")
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def _terminating_places(value: Fraction) -> int | None:
    """How many digits after the point write `value` exactly, or None when its decimal never ends."""
    d, counts = value.denominator, []
    for p in (2, 5):
        n = 0
        while d % p == 0:
            d //= p
            n += 1
        counts.append(n)
    return max(counts) if d == 1 else None


def format_number(value: Number) -> str:
    """An exact integer or decimal as itself; another fraction as n/d with its decimal; a float with ≈."""
    if isinstance(value, float):
        return f"≈ {value:.15g}"
    if value.denominator == 1:
        return str(value.numerator)
    places = _terminating_places(value)
    if places is not None and places <= 60:
        return _decimal(value, places)
    return f"{value.numerator}/{value.denominator} (≈ {_decimal(value)})"


def calculate(expression: str) -> str:
    return format_number(evaluate(expression))


def _tool(arguments: dict[str, Any], context: ToolContext) -> str:
    expression = arguments.get("expression")
    if not isinstance(expression, str):
        raise ToolError('the argument "expression" must be a string, e.g. {"expression": "393*285"}')
    return calculate(expression)


TOOL = register(Tool(
    "calculator",
    "Exact arithmetic. Use it for any calculation instead of computing in your head. Supports integers of any "
    "size, decimals, fractions, + - * / // % ** (or ^), parentheses, percentages (15%), pi, e and the "
    "functions " + ", ".join(FUNCTIONS) + ".",
    {"type": "object",
     "properties": {"expression": {"type": "string", "description": "The expression, e.g. \"393*285\" or "
                                                                     "\"(1/3 + 0.25) * 12\""}},
     "required": ["expression"]},
    _tool, label_id="tools.name.calculator"))
