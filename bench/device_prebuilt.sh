# Sourced (after bench/device_env.sh) by device scripts that run binaries built on the CPU machine:
#   source bench/device_prebuilt.sh DIR
# DIR: bench/pack_device_binaries.sh's folder (its bins.tar.xz is unpacked into /tmp/devbin) or a tree of binaries.
# Sets PREBUILT_DIR to the binaries' tree, unpacks the Debian packages of DEBS (default .devdeps) into
# /tmp/ringlab-deps once, and puts PREBUILT_DIR/lib, those packages' and NCCL's libraries on LD_LIBRARY_PATH.
PREBUILT_DIR=$(realpath "$1")
if [ -f "$PREBUILT_DIR/bins.tar.xz" ]; then
  mkdir -p /tmp/devbin && tar xJf "$PREBUILT_DIR/bins.tar.xz" -C /tmp/devbin && PREBUILT_DIR=/tmp/devbin
fi
mkdir -p /tmp/ringlab-deps
[ -d /tmp/ringlab-deps/usr ] || for f in "${DEBS:-.devdeps}"/*.deb; do dpkg -x "$f" /tmp/ringlab-deps; done
export LD_LIBRARY_PATH=$PREBUILT_DIR/lib:/tmp/ringlab-deps/usr/lib/x86_64-linux-gnu:${NCCL_LIB_DIR:-}:${LD_LIBRARY_PATH:-}
