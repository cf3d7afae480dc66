"""``pinyard completion bash|zsh|fish``: a completion script made from the parser itself,
so it always knows every command, action and option."""

from __future__ import annotations

import argparse
from typing import Any

from pinyard.cli._output import add_json_flag

SHELLS = ("bash", "zsh", "fish")
INSTALL = {
    "bash": "pinyard completion bash > ~/.local/share/bash-completion/completions/pinyard",
    "zsh": 'eval "$(pinyard completion zsh)"   # in ~/.zshrc',
    "fish": "pinyard completion fish > ~/.config/fish/completions/pinyard.fish",
}


def tree(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> dict[tuple[str, ...], Any]:
    """Each command path -> (subcommands, options)."""
    subs: dict[str, argparse.ArgumentParser] = {}
    options: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            shown = {choice.dest for choice in action._choices_actions}  # hidden: no help
            subs = {k: v for k, v in action.choices.items() if k in shown}
        else:
            options += [o for o in action.option_strings if o.startswith("--")]
    found = {path: (sorted(subs), sorted(options))}
    for name, child in subs.items():
        found.update(tree(child, (*path, name)))
    return found


def _bash(paths: dict[tuple[str, ...], Any]) -> str:
    cases = []
    for path, (subs, options) in sorted(paths.items()):
        key = " ".join(path)
        cases.append(f'        "{key}") words="{" ".join(subs + options)}" ;;')
    return "\n".join(
        [
            "# pinyard completion for bash (and zsh through bashcompinit)",
            "_pinyard() {",
            '    local cur="${COMP_WORDS[COMP_CWORD]}" path="" w i',
            "    for ((i = 1; i < COMP_CWORD; i++)); do",
            '        w="${COMP_WORDS[i]}"',
            '        [[ "$w" == -* ]] && continue',
            '        case "${path:+$path }$w" in',
            *[f'            "{" ".join(p)}") path="{" ".join(p)}" ;;' for p in sorted(paths) if p],
            "        esac",
            "    done",
            '    local words=""',
            '    case "$path" in',
            *cases,
            "    esac",
            '    COMPREPLY=($(compgen -W "$words" -- "$cur"))',
            '    if [[ ${#COMPREPLY[@]} -eq 0 && "$cur" != -* ]]; then',
            '        COMPREPLY=($(compgen -f -- "$cur"))',
            "    fi",
            "}",
            "complete -o default -F _pinyard pinyard",
            "",
        ]
    )


def _zsh(paths: dict[tuple[str, ...], Any]) -> str:
    return "\n".join(
        [
            "#compdef pinyard",
            "# pinyard completion for zsh",
            "autoload -U +X bashcompinit && bashcompinit",
            _bash(paths),
        ]
    )


def _fish(paths: dict[tuple[str, ...], Any]) -> str:
    lines = ["# pinyard completion for fish", "complete -c pinyard -f"]
    for path, (subs, options) in sorted(paths.items()):
        if path:
            seen = " && ".join(f"__fish_seen_subcommand_from {p}" for p in path)
            deeper = [p for p in paths if len(p) == len(path) + 1 and p[: len(path)] == path]
            nots = " ".join(p[-1] for p in deeper)
            cond = seen + (f" && not __fish_seen_subcommand_from {nots}" if nots else "")
        else:
            cond = "__fish_use_subcommand"
        for sub in subs:
            lines.append(f"complete -c pinyard -n '{cond}' -a {sub}")
        for option in options:
            lines.append(f"complete -c pinyard -n '{cond}' -l {option[2:]}")
    return "\n".join([*lines, ""])


def script(root: argparse.ArgumentParser, shell: str) -> str:
    paths = tree(root)
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](paths)


def add_completion_command(sub: Any, root: argparse.ArgumentParser) -> None:
    from pinyard.cli._common import with_example

    example = "\n".join(INSTALL.values())
    cmd = sub.add_parser(
        "completion",
        **with_example("Print a shell completion script for bash, zsh or fish.", example),
    )
    cmd.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    add_json_flag(cmd)

    def run(args: argparse.Namespace) -> None:
        text = script(root, args.shell)
        if args.json:
            from pinyard.cli._output import emit

            emit(args, {"shell": args.shell, "script": text, "install": INSTALL[args.shell]}, None)
        else:
            print(text, end="")

    cmd.set_defaults(handler=run)
