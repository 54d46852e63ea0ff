#!/usr/bin/env python3
"""The cycle check's own test: a planted cycle fails it, the shapes it allows pass.
Run by .ci/run before the check itself."""

import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "module-cycles.py"


def check(files):
    """The script's exit status and output over a crate made of `files` ({path: text})."""
    with tempfile.TemporaryDirectory() as crate:
        for path, text in files.items():
            file = Path(crate) / "src" / path
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text)
        run = subprocess.run([sys.executable, SCRIPT, crate], capture_output=True, text=True)
        return run.returncode, run.stdout


class CycleCheck(unittest.TestCase):
    def test_a_planted_cycle_fails_and_is_named(self):
        status, out = check({
            "lib.rs": "mod a;\nmod b;\n",
            "a.rs": "use crate::b::B;\npub struct A;\n",
            "b.rs": "pub struct B;\nfn f() { let _ = crate::a::A; }\n",
        })
        self.assertEqual(status, 1, out)
        self.assertIn("a -> b -> a", out)

    def test_a_cycle_through_a_parent_module_and_super_fails(self):
        status, out = check({
            "lib.rs": "mod client;\nmod tools;\n",
            "client.rs": "use crate::tools::ToolSet;\n",
            "tools/mod.rs": "mod set;\npub use set::ToolSet;\n",
            "tools/set.rs": "use crate::client::Client;\npub struct ToolSet;\n",
        })
        self.assertEqual(status, 1, out)
        self.assertIn("client -> tools -> tools::set -> client", out)

    def test_children_naming_their_parent_comments_and_tests_are_no_cycle(self):
        status, out = check({
            "lib.rs": "mod cache;\nmod wire;\n",
            "cache/mod.rs": "mod slot;\nuse slot::Slot;\nuse crate::wire::Route;\n",
            "cache/slot.rs": "use super::Options;\n// crate::wire uses crate::cache::slot here\n",
            "wire.rs": "pub struct Route;\n#[cfg(test)]\nmod tests {\n    use crate::cache::Cache;\n}\n",
        })
        self.assertEqual(status, 0, out)


if __name__ == "__main__":
    unittest.main()
