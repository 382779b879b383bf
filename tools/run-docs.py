#!/usr/bin/env python3
"""Docs that run: every shell block of README.md and docs/*.md, run against a local cloud of its own.

    python3 tools/run-docs.py              # self-test, then every block of README.md and docs/*.md
    python3 tools/run-docs.py docs/flows.md  # the blocks of these files only (after the self-test)
    python3 tools/run-docs.py --list       # what each block is and what would happen to it
    python3 tools/run-docs.py --self-test  # the runner's own tests only (no cloud, under a second)

`make test` runs it after the cargo tests (the binaries it runs are built by then). Python 3.11,
standard library only.

How a block says what it is (the fence's info string: GitHub highlights the first word, `sh`, and
shows nothing of the rest, so a reader copies the block as it is):

    ```sh            run against the local cloud. Must be preceded by at least one
                     `<!-- expect: TEXT -->` line (an HTML comment: GitHub does not show it); the block
                     passes when it exits 0 and every TEXT occurs in its output (stdout + stderr).
    ```sh aws        needs an AWS account or the internet (`aws`, `sam`, `docker`, `gh`, `make
                     build`): skipped. It must hold at least one such command, so a local block cannot
                     hide behind the marker.
    ```sh make       `make` targets that build, run until Ctrl-C or are `make test` itself (`make dev`,
                     `make test`, `make bench`): not run, which would recurse or never end. Instead each
                     line must be `[NAME=value …] make TARGET … [NAME=value …]` naming targets and
                     variables of the Makefile, and each environment variable before `make` must be
                     one the Makefile or crates/switchboard-local reads. So a renamed target or
                     variable fails here too.

`bash`, `shell`, `console` and `zsh` fences count as `sh`. Any other marker word fails the run, as
does an expectation with no shell block under it, a runnable block without one, or a fence that is
never closed. Other fences (```json, ```mermaid, plain ```) are not shell and are left alone.

The local cloud: `target/debug/switchboard-local up`, started once for all blocks with
SWITCHBOARD_CLOUD_FILE pointing at a temporary file, so its endpoints never overwrite the
`.local/cloud.json` of a developer's running `make dev`; every port it opens is a free loopback port
the OS picks (the emulator, gateway, Lambda API, site, CCP and moto bind port 0 and use the one they got), so
the two clouds do not clash. The blocks get the same SWITCHBOARD_CLOUD_FILE: `switchboard-local call
…`, `invoke`, `outbox`, `sign-in` and `flows` read it themselves, and a block that needs an endpoint
reads it as `jq -r .gateway_endpoint "${SWITCHBOARD_CLOUD_FILE:-.local/cloud.json}"`, which works as
written for a reader with `make dev` running. Nothing is substituted in the blocks.

Blocks run in order, file by file (README.md first, then docs/*.md by name), each in `bash` with
`set -eo pipefail` from the repository root, against the one cloud: a page's blocks may build on the
page's earlier blocks, but pages do not depend on each other. Each block has 60 s. Whatever happens
(a failure, Ctrl-C, SIGTERM), the runner stops what it started by process id: the cloud gets SIGTERM
(it stops moto and the functions it started) and, if it has not exited 15 s later, its process group
(a session of its own, so nothing else) gets SIGKILL; a block that overruns has its process group
killed the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHELL_LANGS = {"sh", "bash", "shell", "console", "zsh"}
MARKERS = {"aws", "make"}  # none: the block runs
# A block marked `aws` must hold one of these commands (`make build` counts too).
REMOTE_COMMANDS = {"aws", "sam", "docker", "gh"}
# What the blocks run besides the repository's own binaries (README.md lists them for readers too).
BLOCK_TOOLS = ("bash", "curl", "jq")
BLOCK_TIMEOUT_S = 60
CLOUD_READY_TIMEOUT_S = 120
CLOUD_STOP_GRACE_S = 15

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")
EXPECT = re.compile(r"^[ \t]*<!--[ \t]*expect:[ \t]*(?P<text>.*?)[ \t]*-->[ \t]*$")


class DocError(Exception):
    """A problem with how a page is written (its markers and expectations), before anything runs."""


@dataclasses.dataclass
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    marker: str  # run | aws | make
    body: str
    expects: list[str]

    def where(self) -> str:
        try:
            shown = self.path.relative_to(ROOT)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}"


def parse(path: Path, text: str) -> list[Block]:
    """The shell blocks of one markdown page, with their markers and expectations."""
    lines = text.split("\n")
    blocks: list[Block] = []
    pending: list[tuple[int, str]] = []  # expectations waiting for their block
    i = 0
    while i < len(lines):
        line = lines[i]
        expect = EXPECT.match(line)
        if expect:
            if not expect.group("text"):
                raise DocError(f"{path}:{i + 1}: an empty expectation")
            pending.append((i + 1, expect.group("text")))
            i += 1
            continue
        fence = FENCE.match(line)
        if not fence:
            if pending:
                raise DocError(f"{path}:{pending[0][0]}: an expectation not directly above a shell block")
            i += 1
            continue
        indent, mark, info = fence.group("indent"), fence.group("fence"), fence.group("info")
        words = info.split()
        lang = words[0].lower() if words else ""
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines):
            closing = FENCE.match(lines[i])
            if closing and closing.group("fence")[0] == mark[0] and len(closing.group("fence")) >= len(mark) \
                    and not closing.group("info"):
                break
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        else:
            raise DocError(f"{path}:{start + 1}: a code block that is never closed")
        i += 1
        if lang not in SHELL_LANGS:
            if pending:
                raise DocError(f"{path}:{pending[0][0]}: an expectation above a {lang or 'plain'} block, not a shell block")
            continue
        extra = words[1:]
        if len(extra) > 1 or (extra and extra[0] not in MARKERS):
            raise DocError(f"{path}:{start + 1}: unknown marker {' '.join(extra)!r} (known: aws, make; none = run)")
        marker = extra[0] if extra else "run"
        blocks.append(Block(path, start + 1, lang, marker, "\n".join(body), [text for _, text in pending]))
        pending = []
    if pending:
        raise DocError(f"{path}:{pending[0][0]}: an expectation at the end of the page, under no block")
    return blocks


def logical_lines(body: str) -> list[str]:
    """The block's commands: backslash continuations joined, blank lines dropped."""
    out: list[str] = []
    current = ""
    for raw in body.split("\n"):
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        current += raw
        if current.strip():
            out.append(current.strip())
        current = ""
    if current.strip():
        out.append(current.strip())
    return out


def tokens(line: str) -> list[str]:
    """Shell words and operators of one line, comments dropped (a best effort: quotes it cannot
    balance fall back to a plain split)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:
        return line.split()


ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SEPARATORS = {"|", "||", "&&", ";", "&", "(", ")", "$(", "`"}


def commands(line: str) -> list[list[str]]:
    """The simple commands of one line (split on pipes, `;`, `&&`, `||`, subshells)."""
    found: list[list[str]] = []
    current: list[str] = []
    for token in tokens(line):
        if token in SEPARATORS or set(token) <= set("|&;()"):
            if current:
                found.append(current)
            current = []
            continue
        current.append(token)
    if current:
        found.append(current)
    return found


def command_words(command: list[str]) -> list[str]:
    """The command without its leading `NAME=value` assignments."""
    words = list(command)
    while words and ASSIGNMENT.match(words[0]):
        words.pop(0)
    return words


def needs_remote(block: Block) -> bool:
    for line in logical_lines(block.body):
        for command in commands(line):
            words = command_words(command)
            if not words:
                continue
            if words[0] in REMOTE_COMMANDS or (words[0] == "make" and "build" in words[1:]):
                return True
    return False


@dataclasses.dataclass
class Makefile:
    targets: set[str]
    variables: set[str]

    @classmethod
    def read(cls, path: Path) -> "Makefile":
        targets: set[str] = set()
        variables: set[str] = set()
        for line in path.read_text().split("\n"):
            if line.startswith(("\t", "#")):
                continue
            assignment = re.match(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(?::=|\?=|\+=|=)", line)
            if assignment:
                variables.add(assignment.group(1))
                continue
            rule = re.match(r"^([^:=#]+?)\s*:(?!=)", line)
            if rule:
                targets.update(name for name in rule.group(1).split() if not name.startswith("."))
        return cls(targets, variables)


def read_by_code(name: str, root: Path) -> bool:
    """Whether an environment variable is one the Makefile or the local cloud's code reads."""
    places = [root / "Makefile", *sorted((root / "crates/switchboard-local/src").rglob("*.rs"))]
    return any(name in place.read_text(errors="replace") for place in places if place.is_file())


def check_make_block(block: Block, makefile: Makefile, root: Path) -> None:
    for line in logical_lines(block.body):
        for command in commands(line):
            words = list(command)
            env = []
            while words and ASSIGNMENT.match(words[0]):
                env.append(words.pop(0).split("=", 1)[0])
            if not words:
                continue
            if words[0] != "make":
                raise DocError(f"{block.where()}: a `sh make` block runs only make, not {words[0]!r}: "
                               "mark it `sh aws` if it needs an account, else leave it unmarked so it runs")
            named = [w for w in words[1:] if not w.startswith("-")]
            goals = [w for w in named if not ASSIGNMENT.match(w)]
            if not goals:
                raise DocError(f"{block.where()}: `make` with no target")
            for goal in goals:
                if goal not in makefile.targets:
                    raise DocError(f"{block.where()}: `make {goal}`: no such target in the Makefile")
            for assignment in (w for w in named if ASSIGNMENT.match(w)):
                variable = assignment.split("=", 1)[0]
                if variable not in makefile.variables:
                    raise DocError(f"{block.where()}: `make … {variable}=…`: the Makefile has no variable {variable}")
            for variable in env:
                if not read_by_code(variable, root):
                    raise DocError(f"{block.where()}: {variable}: neither the Makefile nor the local cloud reads it")


def check(blocks: list[Block], makefile: Makefile, root: Path) -> None:
    """Everything that can be checked without running: markers, expectations, make targets."""
    for block in blocks:
        if block.marker == "run" and not block.expects:
            raise DocError(f"{block.where()}: a runnable block needs an `<!-- expect: … -->` line above it "
                           "(a line its output must hold); mark it `sh aws` only if it needs an AWS account")
        if block.marker != "run" and block.expects:
            raise DocError(f"{block.where()}: an expectation above a `sh {block.marker}` block, which does not run")
        if block.marker == "aws" and not needs_remote(block):
            raise DocError(f"{block.where()}: marked `sh aws` but runs no {', '.join(sorted(REMOTE_COMMANDS))} "
                           "or `make build`: leave it unmarked so it runs against the local cloud")
        if block.marker == "make":
            check_make_block(block, makefile, root)


def pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


class Cloud:
    """`switchboard-local up` in a session of its own; stopped by its process id."""

    def __init__(self, root: Path, workdir: Path):
        self.root = root
        self.file = workdir / "cloud.json"
        self.log_path = workdir / "cloud.log"
        self.process: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.root / '.venv/bin'}{os.pathsep}{env.get('PATH', '')}"
        env["SWITCHBOARD_CLOUD_FILE"] = str(self.file)
        return env

    def start(self) -> None:
        missing = [tool for tool in BLOCK_TOOLS if shutil.which(tool, path=self.env()["PATH"]) is None]
        if missing:
            raise RuntimeError(f"the docs' blocks need {', '.join(missing)}: install them "
                               f"(`apt-get install {' '.join(missing)}`; `make test` does)")
        binary = self.root / "target/debug/switchboard-local"
        if not binary.exists():
            raise RuntimeError(f"{binary} does not exist: build it first (`cargo build --workspace --all-targets`, "
                               "which `make test` runs before this)")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([str(binary), "up"], cwd=self.root, env=self.env(),
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + CLOUD_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if exited(self.process.pid):
                raise RuntimeError("the local cloud exited before it was up:\n" + self.log_tail())
            if self.file.exists():
                try:
                    json.loads(self.file.read_text())
                    return
                except (ValueError, OSError):
                    pass  # being written
            time.sleep(0.1)
        raise RuntimeError(f"the local cloud was not up within {CLOUD_READY_TIMEOUT_S} s:\n" + self.log_tail())

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if not exited(process.pid):
            process.send_signal(signal.SIGTERM)
            wait_unreaped(process.pid, CLOUD_STOP_GRACE_S)
        # Still unreaped, so its process group id cannot have gone to anyone else: whatever of the
        # group is left (everything, if it ignored SIGTERM; its children, if it crashed) is killed.
        kill_group(process.pid)
        process.wait()


def exited(pid: int) -> bool:
    """Whether a child of ours has exited, without reaping it (its pid stays ours until `wait`)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None


def wait_unreaped(pid: int, timeout: float) -> bool:
    """Waits up to `timeout` s for a child of ours to exit, without reaping it. True if it exited."""
    deadline = time.monotonic() + timeout
    while not exited(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def kill_group(pgid: int) -> None:
    """SIGKILL to the process group an unreaped child of ours leads (a session of its own): only
    what it started, and the id cannot have been reused while the child is unreaped."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclasses.dataclass
class Outcome:
    block: Block
    status: str  # passed | failed | skipped | checked
    detail: str = ""
    seconds: float = 0.0


def run_block(block: Block, cwd: Path, env: dict[str, str], workdir: Path) -> Outcome:
    script = "set -eo pipefail\n" + block.body + "\n"
    started = time.monotonic()
    output_path = workdir / "block.out"
    with open(output_path, "wb") as output:
        process = subprocess.Popen(["bash", "-c", script], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        finished = wait_unreaped(process.pid, BLOCK_TIMEOUT_S)
    finally:
        # Before reaping it: whatever the block left running (or all of it, when it overran or the
        # run was interrupted) goes with it.
        kill_group(process.pid)
        process.wait()
    seconds = time.monotonic() - started
    text = output_path.read_text(errors="replace")
    if not finished:
        return Outcome(block, "failed", f"did not finish within {BLOCK_TIMEOUT_S} s\n{tail(text)}", seconds)
    if process.returncode != 0:
        return Outcome(block, "failed", f"exited with {process.returncode}\n{tail(text)}", seconds)
    missing = [expect for expect in block.expects if expect not in text]
    if missing:
        return Outcome(block, "failed", "its output lacks " + ", ".join(repr(m) for m in missing) + f"\n{tail(text)}",
                       seconds)
    return Outcome(block, "passed", seconds=seconds)


def tail(text: str, lines: int = 40) -> str:
    kept = text.rstrip("\n").split("\n")[-lines:]
    return "\n".join("    | " + line for line in kept)


def run_docs(paths: list[Path], root: Path, start_cloud=None, out=sys.stdout) -> bool:
    """Checks every page, then runs the runnable blocks against one cloud. True when all passed."""
    makefile = Makefile.read(root / "Makefile")
    blocks: list[Block] = []
    try:
        for path in paths:
            page_blocks = parse(path, path.read_text())
            check(page_blocks, makefile, root)
            blocks.extend(page_blocks)
    except DocError as error:
        print(f"FAIL {error}", file=out)
        return False

    runnable = [b for b in blocks if b.marker == "run"]
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="run-docs-") as workdir:
        cloud = (start_cloud or Cloud)(root, Path(workdir))
        try:
            if runnable:
                started = time.monotonic()
                try:
                    cloud.start()
                except RuntimeError as error:
                    print(f"FAIL {error}", file=out)
                    return False
                print(f"local cloud up in {time.monotonic() - started:.1f} s", file=out, flush=True)
            for block in blocks:
                if block.marker == "aws":
                    outcome = Outcome(block, "skipped", "needs an AWS account")
                elif block.marker == "make":
                    outcome = Outcome(block, "checked", "make targets exist; not run")
                else:
                    outcome = run_block(block, root, cloud.env(), Path(workdir))
                outcomes.append(outcome)
                first = logical_lines(block.body)[0] if logical_lines(block.body) else ""
                status = outcome.status.upper()
                timing = f" {outcome.seconds:.1f}s" if outcome.status in ("passed", "failed") else ""
                print(f"{status:8} {block.where():24}{timing:7}  {first[:90]}", file=out, flush=True)
                if outcome.status == "failed":
                    print(outcome.detail, file=out, flush=True)
        finally:
            cloud.stop()
    failed = [o for o in outcomes if o.status == "failed"]
    counts = {s: sum(o.status == s for o in outcomes) for s in ("passed", "failed", "skipped", "checked")}
    print(f"not run: {counts['skipped']} need an AWS account (sh aws), {counts['checked']} make targets checked "
          "(sh make)", file=out)
    print(f"docs: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped'] + counts['checked']} skipped",
          file=out)
    return not failed


# ---------------------------------------------------------------------------------------------- self-test

class NoCloud:
    """A cloud that starts nothing: the self-test's blocks need none."""

    def __init__(self, root: Path, workdir: Path):
        self.started = False

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        pass


class SelfTest(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="run-docs-self-test-"))
        (self.dir / "Makefile").write_text("RUNTIME ?= host\n.PHONY: dev test\ndev: setup\n\tcargo build\n"
                                           "test: setup\n\tcargo test\nbuild:\n\tsam build\n")
        (self.dir / "crates/switchboard-local/src").mkdir(parents=True)
        (self.dir / "crates/switchboard-local/src/main.rs").write_text('env::var("SWITCHBOARD_CORS_ORIGINS")')

    def tearDown(self):
        shutil.rmtree(self.dir)

    def page(self, text: str) -> Path:
        path = self.dir / "page.md"
        path.write_text(text)
        return path

    def run_page(self, text: str) -> tuple[bool, str]:
        import io
        out = io.StringIO()
        ok = run_docs([self.page(text)], self.dir, start_cloud=NoCloud, out=out)
        return ok, out.getvalue()

    def test_an_unmarked_failing_block_fails_the_run(self):
        ok, out = self.run_page("<!-- expect: never seen -->\n```sh\necho about to fail\nexit 3\n```\n")
        self.assertFalse(ok, out)
        self.assertIn("exited with 3", out)

    def test_a_failing_command_in_the_middle_of_a_block_fails_it(self):
        ok, out = self.run_page("<!-- expect: done -->\n```sh\nfalse\necho done\n```\n")
        self.assertFalse(ok, out)

    def test_a_failure_inside_a_pipe_fails_the_block(self):
        ok, out = self.run_page("<!-- expect: x -->\n```sh\n(echo x; exit 4) | cat\n```\n")
        self.assertFalse(ok, out)

    def test_a_missing_expected_line_fails_the_run(self):
        ok, out = self.run_page("<!-- expect: goodbye -->\n```sh\necho hello\n```\n")
        self.assertFalse(ok, out)
        self.assertIn("lacks 'goodbye'", out)

    def test_every_expected_line_must_be_there(self):
        ok, out = self.run_page("<!-- expect: hello -->\n<!-- expect: world -->\n```sh\necho hello\n```\n")
        self.assertFalse(ok, out)
        self.assertIn("lacks 'world'", out)

    def test_a_block_that_prints_what_it_promises_passes(self):
        ok, out = self.run_page("text\n\n<!-- expect: hello -->\n<!-- expect: world -->\n```sh\necho hello\n"
                                "echo world >&2\n```\n")
        self.assertTrue(ok, out)
        self.assertIn("PASSED", out)

    def test_a_runnable_block_without_an_expectation_fails(self):
        ok, out = self.run_page("```sh\necho hello\n```\n")
        self.assertFalse(ok, out)
        self.assertIn("needs an `<!-- expect", out)

    def test_bash_and_console_fences_are_shell_blocks_too(self):
        for lang in ("bash", "shell", "console"):
            ok, out = self.run_page(f"```{lang}\necho hello\n```\n")
            self.assertFalse(ok, f"{lang}: {out}")

    def test_an_indented_block_in_a_list_is_found_and_run(self):
        ok, out = self.run_page("1. Do this:\n\n   <!-- expect: indented -->\n   ```sh\n   echo indented\n   ```\n")
        self.assertTrue(ok, out)
        self.assertIn("PASSED", out)

    def test_an_aws_block_is_skipped_not_run(self):
        ok, out = self.run_page("```sh aws\naws s3 ls s3://nowhere-at-all && exit 9\n```\n")
        self.assertTrue(ok, out)
        self.assertIn("SKIPPED", out)

    def test_an_aws_block_without_a_remote_command_fails(self):
        ok, out = self.run_page("```sh aws\ntarget/debug/switchboard-local outbox   # aws is only in a comment\n```\n")
        self.assertFalse(ok, out)
        self.assertIn("leave it unmarked", out)

    def test_make_build_and_gh_count_as_remote(self):
        ok, out = self.run_page("```sh aws\nmake build\n```\n\n```sh aws\nFOO=1 gh api repos/a/b\n```\n")
        self.assertTrue(ok, out)

    def test_a_make_block_names_real_targets_and_variables(self):
        ok, out = self.run_page("```sh make\nmake dev    # a comment\nmake test\nmake dev RUNTIME=cargo-lambda\n"
                                "SWITCHBOARD_CORS_ORIGINS=http://localhost:3000 make dev\n```\n")
        self.assertTrue(ok, out)
        self.assertIn("CHECKED", out)

    def test_a_make_block_with_an_unknown_target_fails(self):
        ok, out = self.run_page("```sh make\nmake deploy\n```\n")
        self.assertFalse(ok, out)
        self.assertIn("no such target", out)

    def test_a_make_block_with_an_unknown_variable_fails(self):
        ok, out = self.run_page("```sh make\nmake dev RUNTMIE=cargo-lambda\n```\n")
        self.assertFalse(ok, out)
        ok, out = self.run_page("```sh make\nSWITCHBOARD_NOTHING=1 make dev\n```\n")
        self.assertFalse(ok, out)

    def test_a_make_block_runs_nothing_but_make(self):
        ok, out = self.run_page("```sh make\nmake dev && rm -rf /tmp/x\n```\n")
        self.assertFalse(ok, out)

    def test_an_unknown_marker_fails(self):
        ok, out = self.run_page("```sh skip\necho hello\n```\n")
        self.assertFalse(ok, out)
        self.assertIn("unknown marker", out)

    def test_an_expectation_must_sit_on_a_shell_block(self):
        for text in ("<!-- expect: x -->\n\nsome prose\n```sh\necho x\n```\n",
                     "<!-- expect: x -->\n```json\n{}\n```\n",
                     "```sh aws\naws s3 ls\n```\n<!-- expect: x -->\n"):
            ok, out = self.run_page(text)
            self.assertFalse(ok, out)

    def test_an_expectation_on_a_block_that_does_not_run_fails(self):
        ok, out = self.run_page("<!-- expect: x -->\n```sh aws\naws s3 ls\n```\n")
        self.assertFalse(ok, out)

    def test_an_unclosed_fence_fails(self):
        ok, out = self.run_page("<!-- expect: x -->\n```sh\necho x\n")
        self.assertFalse(ok, out)
        self.assertIn("never closed", out)

    def test_other_fences_are_left_alone(self):
        ok, out = self.run_page("```mermaid\nflowchart LR\n```\n\n```\nplain\n```\n\n````md\n```sh\nexit 1\n```\n````\n")
        self.assertTrue(ok, out)

    def test_no_cloud_is_started_when_nothing_runs(self):
        started = []

        class Recording(NoCloud):
            def start(self):
                started.append(True)

        import io
        ok = run_docs([self.page("```sh aws\naws s3 ls\n```\n")], self.dir, start_cloud=Recording, out=io.StringIO())
        self.assertTrue(ok)
        self.assertEqual(started, [])

    def test_a_block_that_overruns_is_killed_and_fails(self):
        global BLOCK_TIMEOUT_S
        saved, BLOCK_TIMEOUT_S = BLOCK_TIMEOUT_S, 1
        try:
            began = time.monotonic()
            ok, out = self.run_page("<!-- expect: x -->\n```sh\nsleep 30 &\nsleep 30\necho x\n```\n")
            self.assertFalse(ok, out)
            self.assertIn("did not finish", out)
            self.assertLess(time.monotonic() - began, 10)
        finally:
            BLOCK_TIMEOUT_S = saved

    def test_the_repository_pages_are_well_formed(self):
        makefile = Makefile.read(ROOT / "Makefile")
        for path in pages(ROOT):
            if path.exists():
                check(parse(path, path.read_text()), makefile, ROOT)


def self_test() -> bool:
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(SelfTest)
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=0).run(suite)
    return result.wasSuccessful()


def interrupted(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the shell blocks of README.md and docs/*.md against a local cloud.")
    parser.add_argument("files", nargs="*", type=Path, help="pages to run (default: README.md and docs/*.md)")
    parser.add_argument("--self-test", action="store_true", help="run the runner's own tests only")
    parser.add_argument("--list", action="store_true", help="list the blocks and what would happen to each")
    args = parser.parse_args()

    # SIGTERM (a CI timeout, a supervisor) unwinds like Ctrl-C, so the cloud is stopped either way.
    signal.signal(signal.SIGTERM, interrupted)

    if args.self_test:
        return 0 if self_test() else 1
    paths = [p.resolve() for p in args.files] or pages(ROOT)
    if args.list:
        makefile = Makefile.read(ROOT / "Makefile")
        for path in paths:
            blocks = parse(path, path.read_text())
            check(blocks, makefile, ROOT)
            for block in blocks:
                expects = "; ".join(block.expects)
                print(f"{block.marker:5} {block.where():24} {expects}")
        return 0
    if not self_test():
        print("run-docs: its self-test failed; the docs were not run", file=sys.stderr)
        return 1
    try:
        ok = run_docs(paths, ROOT)
    except KeyboardInterrupt:
        print("run-docs: interrupted; what it started is stopped", file=sys.stderr)
        return 130
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
