"""`python monitor.py [args]` is `ytcorpus monitor [args]` (uses .venv when present)."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
venv_python = os.path.join(here, ".venv", "bin", "python")
in_venv = os.path.realpath(sys.prefix) == os.path.realpath(os.path.join(here, ".venv"))
if os.path.exists(venv_python) and not in_venv:
    os.execv(venv_python, [venv_python, *sys.argv])
sys.path.insert(0, os.path.join(here, "src"))
from ytcorpus.monitor import main  # noqa: E402

sys.exit(main())
