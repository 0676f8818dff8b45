"""Formulas an answer restates, read for their grouping.

A small model that copies a formula may drop a bracket: the notes' binary cross-entropy
$-[y \\log p + (1-y)\\log(1-p)]$ came back as "-y log p + (1-y) log(1-p)", every symbol in
its place and the sign of the second term turned round. Read as words the two are the
same; read as formulas they are not. :func:`regrouped` finds the formulas of a sentence
whose symbols a passage's formula has in the same order but grouped otherwise.

A formula is read from LaTeX or plain text alike: ``\\frac{a}{b}`` as ``{a}/{b}``, every
bracket as a round one, Unicode minus and times as ``-`` and ``*``. Brackets that group
no sum, difference, product or quotient (``\\sqrt{d_k}``, ``(QK^T)``) change nothing a
reader can get wrong and are dropped on both sides, so "QK^T / sqrt(d_k)" restates
``\\frac{QK^T}{\\sqrt{d_k}}``, while "softmax(QK^T)/sqrt(d_k)" does not.
"""

from __future__ import annotations

import re

# LaTeX that only spaces or sizes: dropped before reading.
_SPACING = re.compile(
    r"\\(?:left|right|big|Big|bigg|Bigg|mathrm|mathbf|text|operatorname)\b|\\[,;:! ]"
)
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_TOKEN = re.compile(r"[A-Za-z\u0370-\u03ff]+|\d+(?:\.\d+)?|\S")
_OPEN, _CLOSE = "([{", ")]}"
_OPERATORS = frozenset("+-*/^=")
# Words a formula is written with besides one-letter symbols.
_FUNCTIONS = frozenset(
    re.findall(
        r"\w+",
        "log ln exp sqrt softmax sigmoid max min sum prod argmax argmin lim sin cos tanh "
        "relu mean var frac hat bar tilde",
    )
)
_GREEK = frozenset(
    re.findall(
        r"\w+",
        "alpha beta gamma delta epsilon eta theta lambda mu nu pi rho sigma tau phi psi omega",
    )
)
# Unicode a formula is typed with, as ASCII: minus, times, dot, square root.
_PLAIN = str.maketrans({"\u2212": "-", "\u00d7": "*", "\u00b7": "*", "\u221a": " sqrt "})
_MIN_TOKENS = 6  # "a + b" is too little to read a grouping from


def _symbols(text: str) -> list[str]:
    """``text`` as formula tokens, every bracket round, LaTeX commands as their names."""
    text = text.translate(_PLAIN).replace("\\|", "|")
    text = text.replace("\\frac", "").replace("}{", "}/{")
    text = _COMMAND.sub(lambda m: f" {m.group(1)} ", _SPACING.sub(" ", text))
    tokens = []
    for token in _TOKEN.findall(text):
        if token in _OPEN:
            token = "("
        elif token in _CLOSE:
            token = ")"
        tokens.append(token)
    return tokens


def _formula_token(token: str, before: str | None) -> bool:
    if token in _OPERATORS or token in "()_," or token[0].isdigit():
        return True
    if before in ("_", "^"):
        return token.isalnum()  # a subscript or exponent may be a word: p_{correct}
    if len(token) == 1 or (token.isupper() and len(token) <= 3):  # y, QK, PPL
        return token.isalpha()
    return token in _FUNCTIONS or token in _GREEK


def _spans(text: str) -> list[list[str]]:
    """The runs of formula tokens in ``text`` long enough, with an operator, to read."""
    spans: list[list[str]] = []
    run: list[str] = []
    for token in [*_symbols(text), "\n"]:
        if _formula_token(token, run[-1] if run else None):
            run.append(token)
            continue
        while run and run[-1] in "=(,":  # "is $L = $", "log(" cut off, "(1-p), where"
            run.pop()
        if len(run) >= _MIN_TOKENS and _OPERATORS & set(run):
            spans.append(run)
        run = []
    return spans


def _shape(tokens: list[str]) -> tuple[str, ...]:
    """``tokens`` with the brackets that group no sum, difference, product or quotient
    dropped: ``sqrt(d_k)`` and ``(QK^T)`` read as ``sqrt d_k`` and ``QK^T``."""
    kept: list[str] = []
    stack: list[tuple[int, bool]] = []  # (where the bracket opened in kept, groups)
    for token in tokens:
        if token == "(":
            stack.append((len(kept), False))
            kept.append(token)
        elif token == ")":
            if not stack:
                continue  # closes what opened before the formula
            start, grouping = stack.pop()
            if grouping:
                kept.append(token)
            else:
                del kept[start]
        else:
            if token in "+-*/" and stack and kept[-1] != "(":
                stack[-1] = (stack[-1][0], True)
            kept.append(token)
    for start, _ in reversed(stack):  # a bracket never closed groups nothing
        del kept[start]
    return tuple(kept)


def _within(part: tuple[str, ...], whole: tuple[str, ...]) -> bool:
    n = len(part)
    return any(whole[i : i + n] == part for i in range(len(whole) - n + 1))


def regrouped(sentence: str, evidence: str) -> list[str]:
    """The formulas of ``sentence`` that a formula of ``evidence`` writes with the same
    symbols in the same order but grouped otherwise; a formula ``evidence`` does not hold
    at all is left to the other checks."""
    spans = _spans(sentence)
    if not spans:
        return []  # most sentences write no formula: the passages need no reading
    held = [(_shape(s), tuple(t for t in s if t not in "()")) for s in _spans(evidence)]
    found = []
    for span in spans:
        shape = _shape(span)
        flat = tuple(t for t in span if t not in "()")
        copies = [whole for whole, symbols in held if _within(flat, symbols)]
        if copies and not any(_within(shape, whole) for whole in copies):
            found.append(" ".join(span))
    return found
