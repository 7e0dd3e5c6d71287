#!/usr/bin/env python3
"""Fill Solara's CDN proxy cache from the npm registry (see ``app/assets.py``).

Usage: ``.venv/bin/python scripts/seed_solara_cdn.py [--cache DIR] [--check]``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.assets import main

if __name__ == "__main__":
    sys.exit(main())
