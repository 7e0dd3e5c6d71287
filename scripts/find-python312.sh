#!/usr/bin/env bash
# Print the path of a working Python 3.12 interpreter, or explain what to install and exit 1.
# Looks on PATH first, then in pyenv's versions (this project's .python-version names 3.12.1).
set -u
candidates=(python3.12 python3)
pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for dir in "$pyenv_root"/versions/3.12*/bin; do
  candidates+=("$dir/python3.12")
done
candidates+=(/usr/local/bin/python3.12 /usr/bin/python3.12)
for c in "${candidates[@]}"; do
  path=$(command -v "$c" 2>/dev/null) || continue
  if "$path" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then
    "$path" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
echo "powderkeg needs Python 3.12 (mesa >= 3.4 requires it) and found none:" >&2
echo "  looked for python3.12 / python3 on PATH and in $pyenv_root/versions/3.12*." >&2
echo "  Install it, e.g. 'pyenv install 3.12.1', then run make again." >&2
exit 1
