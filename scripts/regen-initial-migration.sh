#!/usr/bin/env bash
# Until the first production release the schema has one migration, regenerated from the models.
# After a release, add new revisions with `alembic revision --autogenerate` instead.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f bot/migrations/versions/0001_initial.py
DATABASE_URL="sqlite+aiosqlite:///$tmp/empty.db" .venv/bin/alembic revision --autogenerate \
  --rev-id 0001 -m "initial schema" >/dev/null
mv bot/migrations/versions/0001_initial_schema.py bot/migrations/versions/0001_initial.py
.venv/bin/ruff format -q bot/migrations/versions/0001_initial.py
.venv/bin/ruff check -q --fix bot/migrations/versions/0001_initial.py || true
rm -rf "$tmp"
echo "bot/migrations/versions/0001_initial.py regenerated"
