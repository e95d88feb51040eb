"""calibrate/scripts/kernel_heldout.py on a synthetic measurement: a GQA record (Hkv < H) is simulated with its kv heads,
a record without Hkv as MHA, and a file without peer records compares ours alone.

The "measured" times are the simulator's own predictions (`ringlab sim --world 1`, run here directly), so the script
must report errors of 0 and the Hkv it used; simulating the GQA shape as MHA must give another time (else the test
would not tell the two apart). Needs RINGLAB_BIN (a CPU build of ringlab)."""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "calibrate", "scripts"))
import kernel_heldout  # noqa: E402


def sim_ms(binary, b, h, kv, s, d, causal):
    cmd = [binary, "sim", "-q", "--world", "1", "--batch", str(b), "--heads", str(h), "--kv-heads", str(kv), "--dim",
           str(d), "--seq", str(s), "--mask", "causal" if causal else "full", "--sharding", "contiguous", "--pass",
           "both", "--json", "-", "--profile", "h100_sxm_calibrated"]
    runs = {r["config"]["pass"]: r for r in json.loads(subprocess.run(cmd, capture_output=True, text=True,
                                                                      check=True).stdout)["runs"]}
    fwd = runs["forward"]["step_time_us"] / 1e3
    return fwd, fwd + runs["backward"]["step_time_us"] / 1e3


def main():
    binary = os.environ["RINGLAB_BIN"]
    shapes = [dict(B=4, H=64, Hkv=8, S=2048, D=128, causal=False), dict(B=2, H=16, S=2048, D=64, causal=False)]
    ours = []
    for sh in shapes:
        fwd, fb = sim_ms(binary, sh["B"], sh["H"], sh.get("Hkv", sh["H"]), sh["S"], sh["D"], sh["causal"])
        ours.append(dict(sh, fwd_ms=fwd, fwdbwd_ms=fb))
    gqa_as_mha = sim_ms(binary, 4, 64, 64, 2048, 128, False)  # 512 CTAs fill the GPU: no group split
    assert abs(gqa_as_mha[1] / ours[0]["fwdbwd_ms"] - 1) > 0.03, "the GQA shape must differ from its MHA twin"
    with tempfile.TemporaryDirectory() as tmp:
        measured = os.path.join(tmp, "measured.json")
        json.dump({"card": "synthetic", "date": "test", "ours": ours}, open(measured, "w"))
        out = os.path.join(tmp, "out")
        # Both outputs whole: written beside and renamed over the old files (they were rewritten in place).
        for suffix in (".json", ".md"):
            with open(out + suffix, "w") as f:
                f.write("old\n")
        inodes = [os.stat(out + suffix).st_ino for suffix in (".json", ".md")]
        assert kernel_heldout.main(["--measured", measured, "--out", out]) == 0
        assert all(os.stat(out + x).st_ino != i for x, i in zip((".json", ".md"), inodes)), "written in place"
        assert sorted(os.listdir(tmp)) == ["measured.json", "out.json", "out.md"], os.listdir(tmp)
        result = json.load(open(out + ".json"))
        rows = result["rows"]
        assert [r["model"] for r in rows] == ["ours", "ours"], rows
        assert [r["Hkv"] for r in rows] == [8, 16], rows
        for r in rows:
            assert abs(r["fwd_error"]) < 1e-9 and abs(r["fwdbwd_error"]) < 1e-9, r
        assert list(result["summary"]) == ["ours"], result["summary"]
        assert "| ours | 4 | 64 | 8 | 2048 | 128 | full |" in open(out + ".md").read()
        # A bad --notes or --before: one line naming it, exit 2, before anything is written (the notes were read after
        # OUT.json was written, --before with json.load).
        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            json.dump({"summary": {"ours": {"profile": "p"}}}, f)
        for extra, name in ((["--notes", os.path.join(tmp, "absent.md")], "absent.md"), (["--before", bad], "bad.json"),
                            (["--before", tmp], tmp)):
            fresh = os.path.join(tmp, "fresh")
            p = subprocess.run([sys.executable, os.path.join(ROOT, "calibrate", "scripts", "kernel_heldout.py"),
                                "--measured", measured, "--out", fresh, *extra], capture_output=True, text=True)
            lines = p.stderr.strip().splitlines()
            assert p.returncode == 2 and len(lines) == 1 and name in lines[0], (extra, p.returncode, p.stderr)
            assert not os.path.exists(fresh + ".json") and not os.path.exists(fresh + ".md"), extra
    print("kernel_heldout_test: ok")


if __name__ == "__main__":
    main()
