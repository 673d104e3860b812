"""Command-line usage errors: exit 64 (EX_USAGE) and say what was wrong without ever echoing what was typed."""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn

EX_USAGE = 64
"""The exit code of a usage error (``sysexits.h``), for every command."""

_ARGUMENT = re.compile(r"^argument (?P<name>[^:]+): (?P<reason>.*)$", re.DOTALL)
_INVALID_TYPE = re.compile(r"^invalid (?P<type>\w+) value")


class QuietParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors never quote an argument.

    argparse's own messages quote the offending value ("unrecognized arguments: <value>"), and a value typed on
    the command line may be a Dentally key; the messages here name the option and the rule, never the value.
    Subcommand parsers are built with the parent's class, so every command behaves alike.
    """

    def error(self, message: str) -> NoReturn:
        """Print the usage and a value-free reason, then exit with ``EX_USAGE``."""
        self.print_usage(sys.stderr)
        program = self.prog.split()[0]
        self.exit(EX_USAGE, f"{program}: usage error: {self._explain(message)}\n")

    def _explain(self, message: str) -> str:
        if message.startswith("the following arguments are required:"):
            return message  # names the parser's own arguments only
        if message.startswith("unrecognized arguments"):
            return (
                "unrecognised arguments (not shown). A Dentally key is never given on the command line: "
                "check-key reads it from standard input."
            )
        if message.startswith("ambiguous option"):
            return "an abbreviated option matches several options (not shown); spell the option out"
        found = _ARGUMENT.match(message)
        if found is None:
            return "invalid arguments (not shown)"
        name, reason = found.group("name"), found.group("reason")
        if reason.startswith("invalid choice"):
            choices = self._choices(name)
            return f"argument {name}: invalid choice" + (f" (choose from {choices})" if choices else "")
        if typed := _INVALID_TYPE.match(reason):
            return f"argument {name}: expects a value of type {typed.group('type')}"
        if reason.startswith("expected"):
            return f"argument {name}: {reason}"  # "expected one argument": argparse's words, no value in them
        if reason.startswith("ignored explicit argument"):
            return f"argument {name}: takes no value"
        return f"argument {name}: invalid value (not shown)"

    def _choices(self, name: str) -> str | None:
        for action in self._actions:
            if name in ("/".join(action.option_strings), action.metavar, action.dest) and action.choices:
                return ", ".join(str(choice) for choice in action.choices)
        return None
