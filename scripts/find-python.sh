#!/usr/bin/env bash
# Print the path of a working Python X.Y interpreter: PATH first, then pyenv, then uv.
# Usage: scripts/find-python.sh 3.10
set -u
want="$1"
ok() { "$1" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" >/dev/null 2>&1; }
for cand in "python$want" "python3"; do
  p=$(command -v "$cand" 2>/dev/null) && ok "$p" && { echo "$p"; exit 0; }
done
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E "^$want(\.|$)" | sort -rV); do
    p="$(pyenv prefix "$v" 2>/dev/null)/bin/python$want"
    ok "$p" && { echo "$p"; exit 0; }
  done
fi
if command -v uv >/dev/null 2>&1; then
  p=$(uv python find "$want" 2>/dev/null) && ok "$p" && { echo "$p"; exit 0; }
fi
echo "Python $want not found: install it (e.g. 'pyenv install $want' or 'uv python install $want')" >&2
exit 1
