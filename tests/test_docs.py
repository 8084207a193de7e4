"""The README cannot drift from the programs: every script is documented there, and every
option of the two cron programs' --help appears in it."""

import glob
import os
import re
import subprocess
import sys

from conftest import ROOT

README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def test_every_script_is_in_the_readme():
    scripts = [os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "*-*.py"))]
    assert [s for s in scripts if s not in README] == []
    assert "import-setup" in README


def test_every_option_of_the_cron_programs_is_in_the_readme():
    for script in ("index-exchange-to-db.py", "cal-downloads.py"):
        help_text = subprocess.run([sys.executable, os.path.join(ROOT, script), "-h"], capture_output=True,
                                   text=True, env={"HOME": "/nonexistent", "PATH": os.environ["PATH"]}).stdout
        options = set(re.findall(r"^\s+(-[A-Za-z]|--[a-z-]+)", help_text, re.M)) - {"-h", "--help"}
        section = README.split(f"`{script}`", 1)[1][:6000]
        missing = [o for o in sorted(options) if o not in section]
        assert missing == [], f"{script}: {missing} not in the README"
