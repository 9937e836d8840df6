"""`nmkit --help` and every sub-command's --help start without importing torch (lazy imports keep start-up short)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

HEAVY = ("torch", "lightning", "matplotlib", "scipy", "SimpleITK", "pydicom")

PROBE = textwrap.dedent("""
    import sys
    import click, typer
    from nmkit.cli import app

    def paths(command, prefix):
        yield prefix
        for name, sub in getattr(command, "commands", {}).items():
            yield from paths(sub, prefix + [name])

    root = typer.main.get_command(app)
    helped = 0
    for args in paths(root, []):
        try:
            root.main(args + ["--help"], prog_name="nmkit", standalone_mode=False)
        except SystemExit:
            pass
        helped += 1
    print(helped, " ".join(m for m in HEAVY if m in sys.modules))
""")


def test_help_of_every_command_imports_nothing_heavy():
    code = f"HEAVY = {HEAVY!r}\n" + PROBE
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    helped, _, loaded = done.stdout.strip().splitlines()[-1].partition(" ")
    assert int(helped) > 20, done.stdout          # the root, the five workflows and their commands
    assert loaded == "", f"--help imported {loaded}"
