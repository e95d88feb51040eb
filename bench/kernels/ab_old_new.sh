#!/usr/bin/env bash
# On a one-GPU machine, from the repository root: is the kernel benchmark unchanged between two builds? Runs the
# peer once (PyTorch SDPA FLASH and CUDNN) and the two benchmark binaries interleaved A B B A on the same shapes,
# same card, same call; prints the new/old time ratio per shape and pass (1.00 = unchanged).
#   OLD=old/ringlab_attention_bench NEW=new/ringlab_attention_bench OUT=dir bash bench/kernels/ab_old_new.sh
# Writes $OUT/ab.json (every run), $OUT/kernels.json and kernels.md (the new binary's table with peer ratios).
# BENCH_ARGS: more flags for both binaries, e.g. "--fwd-kernel mma --bwd-kernel mma" (the portable kernels).
set -uo pipefail
: "${OLD:?}" "${NEW:?}" "${OUT:?}"
SEQS=${SEQS:-4096,8192,16384,32768}
DIMS=${DIMS:-128,64}
ITERS=${ITERS:-10}
python3 bench/peer/peer_bench.py sdpa --seqs $SEQS --dims $DIMS --masks causal,full --iters $ITERS \
  --json $OUT/peer.json > $OUT/peer.log 2>&1 || echo "peer rc=$?"
run() {  # run LABEL BIN N
  "$2" --seqs $SEQS --dims $DIMS --masks causal,full --iters $ITERS --peer $OUT/peer.json ${BENCH_ARGS:-} \
    --json $OUT/$1_$3.json --md $OUT/$1_$3.md ${COMMIT:+--commit $COMMIT} >> $OUT/ab.log 2>&1 || echo "$1 run $3 rc=$?"
}
run old "$OLD" 1; run new "$NEW" 1; run new "$NEW" 2; run old "$OLD" 2
cp $OUT/new_1.json $OUT/kernels.json; cp $OUT/new_1.md $OUT/kernels.md
python3 - "$OUT" <<'PY'
import json, statistics, sys
out = sys.argv[1]
load = lambda n: {(r["D"], r["S"], r["causal"]): r for r in json.load(open(f"{out}/{n}.json"))}
runs = {n: load(n) for n in ("old_1", "new_1", "new_2", "old_2")}
rows, ratios = [], []
print(f"{'D':>4} {'S':>6} {'mask':>6} {'fwd old':>9} {'fwd new':>9} {'new/old':>8} {'fb old':>9} {'fb new':>9} {'new/old':>8}")
for key in runs["old_1"]:
    r = {}
    for p in ("fwd_ms", "fwdbwd_ms"):
        o = statistics.mean([runs["old_1"][key][p], runs["old_2"][key][p]])
        n = statistics.mean([runs["new_1"][key][p], runs["new_2"][key][p]])
        r[p] = (o, n, n / o)
        ratios.append(n / o)
    rows.append(dict(D=key[0], S=key[1], causal=key[2], **{f"{p}_old": r[p][0] for p in r},
                     **{f"{p}_new": r[p][1] for p in r}, **{f"{p}_new_over_old": r[p][2] for p in r}))
    print(f"{key[0]:>4} {key[1]:>6} {'causal' if key[2] else 'full':>6} {r['fwd_ms'][0]:>9.3f} {r['fwd_ms'][1]:>9.3f} "
          f"{r['fwd_ms'][2]:>8.3f} {r['fwdbwd_ms'][0]:>9.3f} {r['fwdbwd_ms'][1]:>9.3f} {r['fwdbwd_ms'][2]:>8.3f}")
json.dump(dict(rows=rows, runs={k: list(v.values()) for k, v in runs.items()}), open(f"{out}/ab.json", "w"), indent=1)
print(f"new/old over {len(ratios)} numbers: median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}")
PY
