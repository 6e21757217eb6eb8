"""Free-text command-line values: `text=` and `phonemes=` take whatever a shell passes, verbatim.

Hydra reads every `KEY=VALUE` with its override grammar, in which `,` makes a sweep, `'` opens a
quoted string, `${...}` interpolates and `null`, `123`, `true` change type: an ordinary sentence
("Hello there, how are you?", "It's") fails to parse. An entry point declares which keys are free
text, and before Hydra runs, each `KEY=VALUE`, `+KEY=VALUE` or `++KEY=VALUE` of those keys is read
by one rule (`read_value`):

- `-` is standard input (UTF-8, read once);
- a value wrapped whole in one pair of matching quotes (`'...'` or `"..."`) is read as Hydra reads
  a quoted value: inside, `\\'` (or `\\"`, whichever wraps) is that quote and a run of 2n
  backslashes right before a quote is n backslashes; a run of 2n or 2n+1 backslashes right before
  `${` is n backslashes (OmegaConf's `\\${` escape); every other backslash is kept. So the README's
  older `"text='Café au lait.'"` keeps its meaning, and `'-'` is a literal dash;
- anything else is the text itself: no escapes, no interpolation, no type conversion.

The argument is then rewritten to `KEY='...'` (`quote`): the text escaped for OmegaConf (`${` ->
`\\${`) and quoted for Hydra, which Hydra and OmegaConf read back as exactly the text. Reading that
form by the rule above gives the text again, so the rewrite is idempotent: a process re-running
`sys.argv` (Lightning's DDP launcher starts each rank that way) gets the same values, standard
input included, since it is inlined into the argument.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import IO

from kokoro_lab.errors import UserValueError

#: The value that reads a free-text key from standard input.
STDIN = "-"
#: A run of backslashes before an OmegaConf interpolation opener.
_INTERPOLATION = re.compile(r"(\\*)\$\{")
#: A run of backslashes before a single quote or the end: what Hydra's quoting escapes.
_BEFORE_QUOTE = re.compile(r"(\\*)('|\Z)")


def escape_interpolation(text: str) -> str:
    """`text` as an OmegaConf string that resolves to `text`: n backslashes before `${` become
    2n+1 (OmegaConf reads 2n+1 backslashes and `${` as n backslashes and a literal `${`)."""
    return _INTERPOLATION.sub(lambda m: "\\" * (2 * len(m[1]) + 1) + "${", text)


def unescape_interpolation(text: str) -> str:
    """Inverse of `escape_interpolation`: a run of 2n or 2n+1 backslashes before `${` becomes n
    backslashes and a literal `${` (never an interpolation)."""
    return _INTERPOLATION.sub(lambda m: "\\" * (len(m[1]) // 2) + "${", text)


def quote(text: str) -> str:
    """`text` as a single-quoted Hydra value that Hydra and OmegaConf read back as exactly `text`.

    OmegaConf escapes first (`escape_interpolation`), then Hydra's quoting: every `'` gets a
    backslash, and a run of backslashes before a `'` or the closing quote is doubled.
    """

    def hydra_escape(m: re.Match) -> str:
        return m[1] * 2 + ("\\'" if m[2] else "")

    return "'" + _BEFORE_QUOTE.sub(hydra_escape, escape_interpolation(text)) + "'"


def unwrap(value: str) -> str | None:
    """The content of `value` when it is one Hydra quoted string (Hydra's un-escaping applied),
    else None: the first quote character is also the last, no unescaped quote of that kind is
    inside, and the closing one is not escaped."""
    if len(value) < 2 or value[0] not in "'\"" or value[-1] != value[0]:
        return None
    qc, body = value[0], value[1:]
    parts, pos = [], 0
    for m in re.finditer(r"(\\*)" + qc, body):
        n, closing = len(m[1]), m.end() == len(body)
        if n % 2 != (0 if closing else 1):  # an inner quote that closes, or an escaped closer
            return None
        parts += [body[pos : m.start()], "\\" * (n // 2), "" if closing else qc]
        pos = m.end()
    return "".join(parts)


def read_value(value: str) -> str:
    """The text a free-text value stands for (the module docstring's rule, without stdin)."""
    content = unwrap(value)
    return value if content is None else unescape_interpolation(content)


def read_stdin(key: str, stream: IO | None) -> str:
    """All of `stream` as UTF-8 text for `KEY=-`; ValueError when it is missing, a terminal,
    empty, not UTF-8 or holds a NUL character."""
    example = f"`echo Hello | python scripts/infer.py {key}=-`"
    if stream is None:
        raise UserValueError(
            f"{key}=- reads standard input, but there is none: pipe text in, e.g. {example}, "
            f'or pass {key}="..."'
        )
    if stream.isatty():
        raise UserValueError(
            f"{key}=- reads standard input, but it is a terminal: pipe text in, e.g. {example}, "
            f'or pass {key}="..."'
        )
    data = getattr(stream, "buffer", stream).read()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise UserValueError(
                f"{key}=- read standard input that is not valid UTF-8 (byte {err.start}: "
                f"{err.reason}): convert it, e.g. `iconv -f latin1 -t utf-8 FILE | ...`"
            ) from None
    if not data:
        raise UserValueError(
            f"{key}=- read nothing from standard input: pipe text in, e.g. {example}"
        )
    if "\0" in data:
        raise UserValueError(f"{key}=- read a NUL character from standard input: pass plain text")
    return data


def rewrite_free_text(
    args: Sequence[str], keys: Collection[str], stdin: IO | None = None
) -> list[str]:
    """`args` with every `[+|++]KEY=VALUE` of a free-text `KEY` rewritten to
    `[+|++]KEY=quote(text)`; other arguments unchanged. Idempotent.

    `stdin` is read (once) only when a value is `-`; None means `sys.stdin`. Raises ValueError
    for a second `KEY=-`, bad standard input, or a value that is not valid UTF-8.
    """
    if not keys:
        return list(args)
    pattern = re.compile(rf"(\+{{0,2}})({'|'.join(map(re.escape, keys))})=(.*)", re.DOTALL)
    out, stdin_key = [], None
    for arg in args:
        m = pattern.fullmatch(arg)
        if m is None:
            out.append(arg)
            continue
        prefix, key, value = m.groups()
        if value == STDIN:
            if stdin_key is not None:
                raise UserValueError(
                    f"{stdin_key}=- and {key}=- both read standard input, which can be read once: "
                    f"pass one of them another way"
                )
            stdin_key = key
            text = read_stdin(key, sys.stdin if stdin is None else stdin)
        else:
            text = read_value(value)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # undecodable argv bytes arrive as lone surrogates
            raise UserValueError(
                f"{key}= is not valid UTF-8 ({text!r}): use a UTF-8 terminal locale, or pipe "
                f"UTF-8 text in with {key}=-"
            ) from None
        out.append(f"{prefix}{key}={quote(text)}")
    return out


@contextmanager
def argv_as(argv: Sequence[str]) -> Iterator[None]:
    """Entry points only: `sys.argv` is `argv` inside the block and restored after it."""
    saved = sys.argv
    sys.argv = list(argv)
    try:
        yield
    finally:
        sys.argv = saved
