"""The parser the CLI reference is generated from: ``ladderfit.cli.build_parser()`` with its
texts made plain for sphinx-argparse.

sphinx-argparse parses each subcommand's description as a stand-alone reStructuredText
document, outside Sphinx, where a Sphinx role (``:mod:`ladderfit.analysis.backtest```, as the
``backtest`` and ``calibrate`` descriptions have) cannot be resolved and crashes the build. The
roles become literals here; the CLI's own ``--help`` is untouched.
"""

from __future__ import annotations

import argparse
import re

from ladderfit.cli import build_parser

ROLE = re.compile(r":[\w:]+:`~?([^`]+)`")


def plain(text: str | None) -> str | None:
    return ROLE.sub(r"``\1``", text) if text else text


def _walk(parser: argparse.ArgumentParser) -> None:
    parser.description = plain(parser.description)
    parser.epilog = plain(parser.epilog)
    for action in parser._actions:
        action.help = plain(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = plain(choice.help)
            for sub in action.choices.values():
                _walk(sub)


def parser() -> argparse.ArgumentParser:
    p = build_parser()
    _walk(p)
    return p
