# Sourced first by the one-call device scripts (bench/kernels/device_mask_call.sh, device_d256_masks.sh,
# calibrate/device/d256_call.sh):
#   source bench/device_call_start.sh NAME PREBUILT_DIR
# Sets OUT (default /tmp/NAME_out: what the device tool brings back), COMMIT (default unknown), W=/tmp/NAME (the
# call's logs, archived into OUT by the caller), T0 and el (prints a step with the seconds since the start); sources
# bench/device_env.sh (its output in W/env.log) and bench/device_prebuilt.sh PREBUILT_DIR, and sets B to the
# binaries' tree.
OUT=${OUT:-/tmp/$1_out}
COMMIT=${COMMIT:-unknown}
W=/tmp/$1
mkdir -p "$OUT" "$W"
T0=$(date +%s)
el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
source bench/device_env.sh > "$W/env.log" 2>&1
source bench/device_prebuilt.sh "$2"
B=$PREBUILT_DIR
