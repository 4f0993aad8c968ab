"""Make this folder's frame builders (``factories_capacity``) importable by its tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
