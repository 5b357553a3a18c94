"""`python monitor.py [args]` is `ytcorpus monitor [args]`, from any directory.

Uses the checkout's .venv when there is one; otherwise the installed ytcorpus package."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
venv_python = os.path.join(here, ".venv", "bin", "python")
in_venv = os.path.realpath(sys.prefix) == os.path.realpath(os.path.join(here, ".venv"))
if os.path.exists(venv_python) and not in_venv:
    os.execv(venv_python, [venv_python, os.path.abspath(__file__), *sys.argv[1:]])
sys.path.insert(0, os.path.join(here, "src"))
from ytcorpus.cli.main import monitor_main  # noqa: E402

sys.exit(monitor_main())
