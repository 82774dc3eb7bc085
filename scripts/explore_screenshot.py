"""Make docs/explore.png: the explorer page in headless Chromium, as `checkerfree explore` writes it.

    python scripts/explore_screenshot.py [--fragment '#dims=2&layers=3:2:1:1,3:2'] [--out PNG]

Needs Debian's chromium at /usr/bin/chromium (`make browser` installs it). The page is
written by the command itself into a temporary folder and opened from file://, offline.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--hide-scrollbars", "--virtual-time-budget=3000"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fragment", default="#dims=2&layers=3:2:1:1,3:2")
    parser.add_argument("--out", default=str(ROOT / "docs" / "explore.png"))
    parser.add_argument("--size", default="1100,880", help="window WIDTH,HEIGHT")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as tmp:
        from checkerfree.cli import main as cli

        if cli(["explore", "--out", tmp, "--force"]) != 0:
            return 1
        page = Path(tmp) / "index.html"
        shot = Path(tmp) / "shot.png"
        subprocess.run([chromium, *FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}",
                        f"--window-size={args.size}", f"--screenshot={shot}",
                        page.as_uri() + args.fragment],
                       check=True, capture_output=True, timeout=120)
        shutil.copyfile(shot, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
