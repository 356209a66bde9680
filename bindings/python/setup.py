# SPDX-License-Identifier: MIT
"""Build the crdt package: the crdt._crdt extension over libcrdt,
libcrdt-gossip and libcrdt-node (crdt.Client), plus the thin pure-Python
package around it.

The library is found with pkg-config (libcrdt-node, which requires
libcrdt-gossip and libcrdt).  To build against an uninstalled build tree instead (make check
does), set
    CRDT_INCLUDE_DIRS   colon-separated include directories
    CRDT_LIBRARY_DIRS   colon-separated library directories (also used as
                        the extension's run-time search path)
Extra compiler flags come from CFLAGS as usual (the ASan CI stage passes
-fsanitize=address,undefined).
"""
import os
import shlex
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "libcrdt-node"],
                             check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise SystemExit("setup.py: pkg-config not found "
                         "(Debian: apt-get install pkg-config)")
    except subprocess.CalledProcessError as e:
        raise SystemExit("setup.py: pkg-config cannot find libcrdt-node "
                         "(install libcrdt, or set PKG_CONFIG_PATH, or "
                         "CRDT_INCLUDE_DIRS and CRDT_LIBRARY_DIRS):\n"
                         + e.stderr)
    return shlex.split(out.stdout)


def dirs(var):
    return [d for d in os.environ.get(var, "").split(":") if d]


include_dirs = dirs("CRDT_INCLUDE_DIRS")
library_dirs = dirs("CRDT_LIBRARY_DIRS")
runtime_dirs = []
extra_compile = ["-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers",
                 "-Wno-cast-function-type"]
if os.environ.get("CRDT_WERROR"):
    extra_compile.append("-Werror")
if include_dirs or library_dirs:
    libraries = ["crdt-node", "crdt-gossip", "crdt"]
    runtime_dirs = library_dirs
    extra_link = []
else:
    cflags = pkg_config("--cflags")
    include_dirs = [f[2:] for f in cflags if f.startswith("-I")]
    extra_compile += [f for f in cflags if not f.startswith("-I")]
    libs = pkg_config("--libs")
    library_dirs = [f[2:] for f in libs if f.startswith("-L")]
    libraries = [f[2:] for f in libs if f.startswith("-l")]
    extra_link = [f for f in libs if not f.startswith(("-L", "-l"))]
    # The library may live outside the loader's default path (a --prefix
    # install): remember where it was found.
    runtime_dirs = [d for d in library_dirs
                    if d not in ("/usr/lib", "/usr/lib64", "/lib")
                    and not d.startswith("/usr/lib/")]


def src(name):
    return os.path.relpath(os.path.join(HERE, "src", name))


ext = Extension(
    "crdt._crdt",
    sources=[src("crdtmodule.c"), src("gossipmodule.c"),
             src("clientmodule.c")],
    depends=[src("crdtpy.h")],
    include_dirs=include_dirs,
    library_dirs=library_dirs,
    libraries=libraries,
    runtime_library_dirs=runtime_dirs,
    extra_compile_args=extra_compile,
    extra_link_args=extra_link,
)

setup(
    name="crdt",
    version="0.1.0",
    description="Python bindings of libcrdt: delta-state CRDTs, a gossip "
                "engine and a network simulator",
    license="MIT",
    package_dir={"crdt": os.path.relpath(os.path.join(HERE, "crdt"))},
    packages=["crdt"],
    package_data={"crdt": ["py.typed", "*.pyi"]},
    include_package_data=False,
    ext_modules=[ext],
    python_requires=">=3.9",
    zip_safe=False,
)
