#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs into a temporary prefix, then compiles and runs an outside
# program with `pkg-config --cflags --libs libcrdt`, against the shared and
# the static library.  Usage: install.sh SRCDIR BUILDDIR
set -euo pipefail
src="$1"
bld="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

make -s -C "$bld" install DESTDIR="$tmp" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; exit 1; }
libdir="$(pkg-config --variable=libdir "$bld/libcrdt.pc")"
incdir="$(pkg-config --variable=includedir "$bld/libcrdt.pc")"
export PKG_CONFIG_PATH="$tmp$libdir/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$tmp"
test -f "$tmp$incdir/crdt/crdt.h"
test -f "$PKG_CONFIG_PATH/libcrdt.pc"

cc -std=c11 -Wall -Wextra -Werror -o "$tmp/quickstart" \
    "$src/examples/quickstart.c" $(pkg-config --cflags --libs libcrdt)
LD_LIBRARY_PATH="$tmp$libdir" "$tmp/quickstart" >"$tmp/out"
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/quickstart-static" \
    "$src/examples/quickstart.c" \
    $(pkg-config --static --cflags libcrdt) "$tmp$libdir/libcrdt.a" \
    $(pkg-config --static --libs-only-l libcrdt | sed 's/-lcrdt//')
"$tmp/quickstart-static" >"$tmp/out-static"
cmp "$tmp/out" "$tmp/out-static"
echo "install: pkg-config build of examples/quickstart.c ran (shared and static)"

# A program that uses one type links only that type: a static link of a
# PN-counter user pulls in no other type and no registry.
cat >"$tmp/one.c" <<'PROG'
#include <crdt/pncounter.h>
int main(void)
{
    crdt_pncounter *pn = crdt_pncounter_new(0);
    int64_t v = 0;
    int rv = crdt_pncounter_increment(pn, 1, 2, 0);

    if (rv == 0)
        rv = crdt_pncounter_value(pn, &v);
    crdt_pncounter_free(pn);
    return rv || v != 2;
}
PROG
cc -std=c11 -o "$tmp/one" "$tmp/one.c" $(pkg-config --cflags libcrdt) \
    "$tmp$libdir/libcrdt.a" \
    $(pkg-config --static --libs-only-l libcrdt | sed 's/-lcrdt//')
"$tmp/one"
other="$(nm "$tmp/one" | awk '$3 ~ /^crdt_(vclock|lww|hlc|dotctx|registry|gossip|sim)_/ { print $3 }')"
if [ -n "$other" ]; then
    echo "install.sh: a PN-counter-only program linked other modules:" >&2
    echo "$other" >&2
    exit 1
fi
echo "install: a PN-counter-only static link pulls in no other type"

# The gossip engine: an outside program built with pkg-config
# libcrdt-gossip, shared and static; and the PN-counter program linked
# statically with both libraries still pulls in no gossip code.
test -f "$tmp$incdir/crdt/gossip.h"
test -f "$PKG_CONFIG_PATH/libcrdt-gossip.pc"
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/gossip_udp" \
    "$src/examples/gossip_udp.c" $(pkg-config --cflags --libs libcrdt-gossip)
LD_LIBRARY_PATH="$tmp$libdir" "$tmp/gossip_udp" >"$tmp/out-gossip"
static_libs="$(pkg-config --static --libs-only-l libcrdt-gossip |
    sed 's/-lcrdt-gossip//; s/-lcrdt//')"
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/gossip_udp-static" \
    "$src/examples/gossip_udp.c" $(pkg-config --cflags libcrdt-gossip) \
    "$tmp$libdir/libcrdt-gossip.a" "$tmp$libdir/libcrdt.a" $static_libs
"$tmp/gossip_udp-static" >"$tmp/out-gossip-static"
echo "install: pkg-config build of examples/gossip_udp.c ran (shared and static)"
cc -std=c11 -o "$tmp/one-g" "$tmp/one.c" $(pkg-config --cflags libcrdt) \
    "$tmp$libdir/libcrdt-gossip.a" "$tmp$libdir/libcrdt.a" $static_libs
other="$(nm "$tmp/one-g" | awk '$3 ~ /^(crdt_(gossip|sim)_|gp_)/ { print $3 }')"
if [ -n "$other" ]; then
    echo "install.sh: a PN-counter-only program linked gossip code:" >&2
    echo "$other" >&2
    exit 1
fi
echo "install: a PN-counter-only static link with libcrdt-gossip pulls in no gossip code"

# The UDP transport: examples/gossip_uv.c built with pkg-config
# libcrdt-node (which brings libuv's flags) and run over loopback.
test -f "$tmp$incdir/crdt/gossip_uv.h"
test -f "$PKG_CONFIG_PATH/libcrdt-node.pc"
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/gossip_uv" \
    "$src/examples/gossip_uv.c" $(pkg-config --cflags --libs libcrdt-node)
LD_LIBRARY_PATH="$tmp$libdir" "$tmp/gossip_uv" >"$tmp/out-gossip-uv"
echo "install: pkg-config build of examples/gossip_uv.c ran"
