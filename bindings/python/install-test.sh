#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's install of the Python bindings, in a scratch prefix:
#   bash bindings/python/install-test.sh SRCDIR BUILDDIR
# installs the build's libcrdt into a temporary DESTDIR, points pkg-config
# at it, and runs
#   pip install --no-index --no-build-isolation bindings/python
# with Debian's /usr/bin/python3 in a venv made with
# --system-site-packages (Debian 12's pip refuses to install into the
# system's Python without --break-system-packages: PEP 668); then imports
# crdt from the venv and checks the stubs were installed.
set -eu
src="$1"
bld="$2"
py=/usr/bin/python3
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

make -s -C "$bld" install DESTDIR="$tmp/stage" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; exit 1; }
libdir="$(pkg-config --variable=libdir "$bld/libcrdt.pc")"
export PKG_CONFIG_PATH="$tmp/stage$libdir/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$tmp/stage"
# pip builds a local directory in place: give it a copy to write in.
cp -R "$src/bindings/python" "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src"/*.egg-info
"$py" -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --no-index --no-build-isolation \
    "$tmp/src" >"$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log" >&2; exit 1; }
cd "$tmp"
"$tmp/venv/bin/python" - <<'PY'
import os
import crdt
g = crdt.GCounter()
g.inc(crdt.actor("x"), 2)
assert crdt.decode(bytes(g)).value == 2
pkg = os.path.dirname(crdt.__file__)
assert "site-packages" in pkg, pkg
for f in ("_crdt.pyi", "__init__.pyi", "py.typed"):
    assert os.path.exists(os.path.join(pkg, f)), f
print("install: pip install --no-build-isolation of bindings/python "
      "against a pkg-config'd libcrdt: crdt %s imports" % crdt.__version__)
PY
