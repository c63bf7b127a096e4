""".ci/install-test-tools installs what the suite needs from Debian only when it is missing, and
only as root; otherwise it says what to run. Checked on a made-up root with stand-ins for `id`
and `apt-get`, so nothing is installed or removed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "install-test-tools"
TOOLS = {"chromium": "usr/bin/chromium", "nginx": "usr/sbin/nginx",
         "default-jre-headless": "usr/bin/java"}


def executable(path: Path, text: str = "#!/bin/sh\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def machine(tmp_path: Path):
    """Run the script on a root holding `present`, as user `uid`; apt-get records each call
    and, unless `apt_installs` is False, puts the packages it is asked for in place."""
    root, bin_dir, calls = tmp_path / "root", tmp_path / "bin", tmp_path / "apt-calls"
    root.mkdir()

    def run(present: tuple[str, ...] = (), uid: int = 0, apt_installs: bool = True,
            *args: str) -> subprocess.CompletedProcess[str]:
        for package in present:
            executable(root / TOOLS[package])
        executable(bin_dir / "id", f"#!/bin/sh\necho {uid}\n")
        cases = "".join(
            f'    {package}) mkdir -p "{(root / path).parent}" && cp "$0" "{root / path}" ;;\n'
            for package, path in TOOLS.items())
        install = f'for arg in "$@"; do\n  case "$arg" in\n{cases}  esac\ndone\n'
        executable(bin_dir / "apt-get",
                   f'#!/bin/sh\necho "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> {calls}\n'
                   + (install if apt_installs else ""))
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
               "TEST_TOOLS_ROOT": str(root)}
        return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True,
                              text=True, timeout=30, check=False)

    run.calls = lambda: calls.read_text().splitlines() if calls.exists() else []  # type: ignore[attr-defined]
    return run


def test_with_everything_present_it_does_nothing_and_says_nothing(machine):
    result = machine(tuple(TOOLS))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert machine.calls() == []


def test_as_root_it_installs_only_what_is_missing_after_one_quiet_update(machine):
    result = machine(("chromium",))
    assert result.returncode == 0, result.stderr
    assert "installing nginx default-jre-headless" in result.stdout
    assert machine.calls() == [
        "DEBIAN_FRONTEND=noninteractive update -qq",
        "DEBIAN_FRONTEND=noninteractive install -y -qq nginx default-jre-headless",
    ]
    again = machine(())
    assert again.returncode == 0 and len(machine.calls()) == 2


def test_not_as_root_it_prints_the_command_and_stops(machine):
    result = machine(("nginx", "default-jre-headless"), 1000)
    assert result.returncode == 1
    assert "sudo apt-get install -y chromium\n" in result.stderr
    assert machine.calls() == []


def test_check_only_names_what_is_missing_and_installs_nothing(machine):
    result = machine(("chromium", "nginx"), 0, True, "--check")
    assert result.returncode == 1 and "default-jre-headless" in result.stderr
    assert machine.calls() == []
    assert machine(tuple(TOOLS), 0, True, "--check").returncode == 0


def test_an_install_that_leaves_something_missing_fails(machine):
    result = machine(("chromium", "nginx"), 0, False)
    assert result.returncode == 1
    assert "default-jre-headless is still missing" in result.stderr
