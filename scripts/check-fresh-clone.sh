#!/usr/bin/env bash
# Proves that the repository stands on its own. It clones the committed HEAD into an empty temporary
# folder (with nothing beside it), builds a wheel from the clone, installs the wheel into a
# temporary venv, and from that installed package runs the clone's schema tests (the official customs
# schemas must be found in the package) and `flashport demo --no-serve` (the migrations and the demo
# catalog must be in the wheel). Uncommitted changes are not part of the check.
#
# Flashport's dependencies come from .venv (a .pth file), so nothing is installed from the network;
# only the wheel's build backend (setuptools) is fetched, by pip, as for any build. About 40 s.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS
step() { printf 'check-fresh-clone: %s (%ds)\n' "$1" "$((SECONDS - started))"; }

commit=$(git -C "$repo" rev-parse HEAD)
step "cloning $commit into an empty folder"
git clone --quiet --no-checkout "$repo" "$work/flashport"
git -C "$work/flashport" fetch --quiet origin "$commit" 2>/dev/null || true  # a detached HEAD's commit
git -C "$work/flashport" checkout --quiet --detach "$commit"
# The design notes the project grew from sit beside the work trees it was written in, never in a
# clone: nothing may read or link them (this script names them only to look for them).
if grep -rn --exclude-dir=.git --exclude=check-fresh-clone.sh -e '\.\./shared' "$work/flashport"; then
  echo "check-fresh-clone: the repository refers to a folder outside it (above)" >&2
  exit 1
fi

step "building the wheel"
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$work/flashport"

step "installing it into a new venv"
"$python" -m venv --without-pip "$work/venv"
"$python" -m pip --python "$work/venv/bin/python" install --quiet --no-deps --no-index "$work"/dist/flashport-*.whl
site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >"$site/zz-flashport-dependencies.pth"

# A clean environment (no FLASHPORT_CEB_XSD, no database URL), from the clone's root: its tests are
# importable there, and flashport is not (the sources are under src/), so it comes from the wheel.
cd "$work/flashport"
run() { env -i PATH="$PATH" HOME="$work" LANG=C.UTF-8 "$@"; }
run "$work/venv/bin/python" -c '
import sys
from pathlib import Path
import flashport
from flashport.ceb.validate import packaged_schemas
where = Path(flashport.__file__).resolve()
assert where.is_relative_to(Path(sys.prefix).resolve()), f"flashport imported from {where}, not the wheel"
print(f"check-fresh-clone: flashport {flashport.__version__} from {where.parent}, schemas in {packaged_schemas()}")
# The compiled catalogues of the storefront and the address lists must be in the wheel too.
from flashport.domain import divisions
from flashport.web import i18n
assert i18n.gettext_for(i18n.ZH, "Buy now") == "立即抢购", "the Chinese catalogue is not in the wheel"
assert divisions.place("330106") is not None, "the administrative divisions are not in the wheel"
'
step "the schema tests, against the installed package"
run "$work/venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit/test_ceb_schema.py tests/unit/test_customs_messages.py
step "flashport demo --no-serve, from the installed package"
run FLASHPORT_DATA_DIR="$work/data" "$work/venv/bin/flashport" demo --no-serve >"$work/demo.log" 2>&1 ||
  { cat "$work/demo.log" >&2; exit 1; }
grep -q "demo loaded" "$work/demo.log"
step "passed"
