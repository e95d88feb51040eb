#!/usr/bin/env python3
"""Argument fuzzer over every `ringlab` subcommand and the viewer: runs the bad and extreme inputs of cases.py, each
with a time limit and an address-space limit, and writes a table (input, exit code, first stderr line, verdict).

  scripts/robustness/run.py --ringlab build/apps/ringlab --view build/apps/ringlab-view \
      --out bench/results/robustness.md [--quick] [--timeout 60] [--mem-limit-mb 8192]

Verdicts. Failures (the exit status is 1 when any is found):
  crash                 exit >= 128 or killed by a signal (uncaught exception, abort, segfault, out of memory)
  hang                  still running at the time limit
  partial file          a failed run left an output or a temporary behind, or a successful one left an output that
                        is not whole (JSON that does not parse, a PNG without its end), or a stray sibling file
  exit 0 on failed write  the output could not be written and the exit status says success
Findings (listed, not failures of the harness, for the CLI's own checks):
  accepted bad input    a bad input ran as if it were fine (exit 0)
  stdout not JSON       '-' as the output, and standard output holds more than the JSON
  no message            a non-zero exit with nothing on stderr
  wrong exit code       a case that names its exit code (a bad output of `run` is 2 before any GPU) exited otherwise
Standard library only.
"""
import argparse
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases as casesmod  # noqa: E402

FAILURES = ('crash', 'hang', 'partial file', 'exit 0 on failed write')
FINDINGS = ('accepted bad input', 'stdout not JSON', 'no message', 'wrong exit code')


def limit_memory(mb):
    def apply():
        if mb:
            resource.setrlimit(resource.RLIMIT_AS, (mb << 20, mb << 20))
        os.setsid()  # its own process group: a hang is killed with all its children
    return apply


def whole(path):
    """False when an existing output is visibly cut short."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError:
        return True
    if path.endswith('.png'):
        return data.startswith(b'\x89PNG') and data.rstrip().endswith(b'IEND\xaeB`\x82')
    if path.endswith('.json'):
        try:
            json.loads(data)
        except ValueError:
            return False
    if path.endswith('.csv'):
        return data.endswith(b'\n') or not data
    return True


def spilled_device(path):
    """A regular file made beside /dev/full or /dev/null ("/dev/full.allgather.forward")."""
    return (os.path.dirname(path) == '/dev' and os.path.basename(path).startswith(('full.', 'null.')) and
            os.path.isfile(path))


def snapshot(dirs):
    seen = set()
    for d in dirs:
        try:
            for n in os.listdir(d):
                seen.add(os.path.join(d, n))
        except OSError:
            pass
    return seen


def run_case(c, args, fx):
    exe = args.view if c.argv[:1] == ['@view'] else args.ringlab
    argv = [exe] + (c.argv[1:] if c.argv[:1] == ['@view'] else c.argv)
    if c.xvfb:
        argv = ['xvfb-run', '-a', '-s', '-screen 0 1024x768x24'] + argv
    env = dict(os.environ)
    env.update(c.env)
    watched = [fx.root, fx.out, fx.ro, fx.a_dir, '/dev', os.path.dirname(fx.missing), os.path.dirname(fx.profiles['valid'])]
    for p in c.outputs:
        if p != '-' and os.path.isfile(p):
            os.remove(p)
    before = snapshot(watched)
    timeout = c.timeout or args.timeout
    t0 = time.time()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=fx.root,
                             preexec_fn=limit_memory(c.mem_limit_mb or args.mem_limit_mb))
        try:
            rc = p.wait(timeout=timeout)
            hung = False
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.wait()
            rc, hung = None, True
        took = time.time() - t0
        out.seek(0)
        stdout = out.read(1 << 24)
        err.seek(0)
        stderr = err.read(1 << 20).decode('utf-8', 'replace')
    after = snapshot(watched)
    new = sorted(after - before)
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith('xvfb-run')]
    msg = lines[0] if lines else ''
    verdicts = []
    if hung:
        verdicts.append('hang')
    elif rc < 0 or rc >= 128:
        verdicts.append('crash')
    if not hung:
        failed = rc != 0
        if c.write_fails and rc == 0:
            verdicts.append('exit 0 on failed write')
        # Temporaries, names spilled beside a device or a directory given as the output, and anything a failed run
        # (or a run whose output could not be written) made.
        stray = [n for n in new if '.tmp' in os.path.basename(n) or spilled_device(n) or
                 (n.startswith(fx.root) and (failed or c.write_fails))]
        bad_out = [o for o in c.outputs if o != '-' and os.path.isfile(o) and (failed or not whole(o))]
        if stray or bad_out:
            verdicts.append('partial file')
            msg = (msg + ' [left: ' + ', '.join(os.path.basename(x) for x in (stray + bad_out)[:3]) + ']').strip()
        if c.expect == 'error' and rc == 0 and not c.write_fails:
            verdicts.append('accepted bad input')
        if c.stdout_json and rc == 0:
            try:
                json.loads(stdout)
            except ValueError:
                verdicts.append('stdout not JSON')
        if rc not in (0, None) and not lines:
            verdicts.append('no message')
        if c.expect_rc is not None and rc != c.expect_rc and 'crash' not in verdicts:
            verdicts.append('wrong exit code')
    # Clean up what the run left so the next case starts from the same state.
    for n in new:
        if spilled_device(n) or n.startswith(fx.root):
            try:
                if os.path.isdir(n) and not os.path.islink(n):
                    shutil.rmtree(n)
                else:
                    os.remove(n)
            except OSError:
                pass
    # The scratch folder and the checkout, named in the report's header (no machine paths in the report).
    short = lambda text: text.replace(fx.root, '$T').replace(fx.repo, '<repo>')
    return {'input': short(c.label()), 'class': c.cls, 'rc': 'timeout' if hung else rc, 'message': short(msg)[:160],
            'verdict': ', '.join(verdicts) or 'ok', 'seconds': round(took, 2)}


def md_escape(s):
    return str(s).replace('|', '\\|').replace('\n', ' ')


def summarize(rows):
    counts = {}
    for r in rows:
        for v in r['verdict'].split(', '):
            counts[v] = counts.get(v, 0) + 1
    failures = [r for r in rows if any(v in r['verdict'] for v in FAILURES)]
    summary = (f"{len(rows)} inputs: " + ', '.join(f"{counts[k]} {k}" for k in sorted(counts)) +
               f"; {len(failures)} failing (crash/hang/partial file/exit 0 on failed write)")
    return counts, failures, summary


def write_report(path, rows, args, started, took):
    counts, failures, summary = summarize(rows)
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    with open(path + '.tmp', 'w') as f:
        f.write('# Robustness: bad and extreme inputs to every subcommand and the viewer\n\n')
        f.write(f'Run {started:%Y-%m-%d %H:%M} UTC at commit {commit}, {took:.0f} s, by '
                f'`scripts/robustness/run.py{" --quick" if args.quick else ""}` (time limit {args.timeout} s a '
                f'case, address space {args.mem_limit_mb} MB, 4096 MB for the size blow-ups; the viewer under '
                f'xvfb-run). `$T` is the scratch folder of fixtures and outputs, `<repo>` the checkout. Verdicts are defined in the script.'
                f' The ringlab under test {"has" if args.has_run else "lacks"} `run` (a CUDA build '
                f'{"with" if args.has_run else "without"} its cases); machine: {os.cpu_count()} cores, no GPU.\n\n')
        f.write(f'**Summary: {summary}.**\n\n')
        f.write('| verdict | count |\n|---|---|\n')
        for k in sorted(counts, key=lambda k: -counts[k]):
            f.write(f'| {k} | {counts[k]} |\n')
        f.write('\n## Failures and findings\n\n| # | class | input | exit | message | verdict |\n|---|---|---|---|---|---|\n')
        for i, r in enumerate(rows):
            if r['verdict'] != 'ok':
                f.write(f"| {i} | {md_escape(r['class'])} | `{md_escape(r['input'])}` | {r['rc']} | "
                        f"{md_escape(r['message'])} | **{r['verdict']}** |\n")
        f.write('\n## Every input\n\n| # | class | input | exit | message | verdict |\n|---|---|---|---|---|---|\n')
        for i, r in enumerate(rows):
            f.write(f"| {i} | {md_escape(r['class'])} | `{md_escape(r['input'])}` | {r['rc']} | "
                    f"{md_escape(r['message'])} | {r['verdict']} |\n")
    os.replace(path + '.tmp', path)
    return summary, failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--ringlab', required=True)
    ap.add_argument('--view', required=True)
    ap.add_argument('--out', help='Markdown report (default: none, print only)')
    ap.add_argument('--quick', action='store_true', help='the quick subset (the ctest)')
    ap.add_argument('--timeout', type=int, default=60)
    ap.add_argument('--mem-limit-mb', type=int, default=8192, help='address-space limit of every case')
    ap.add_argument('--filter', default='', help='only inputs whose text contains this')
    args = ap.parse_args()
    args.ringlab, args.view = os.path.abspath(args.ringlab), os.path.abspath(args.view)
    for exe in (args.ringlab, args.view):
        if not os.access(exe, os.X_OK):
            sys.exit(f'robustness: not an executable: {exe}')
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    have_xvfb = shutil.which('xvfb-run') is not None
    started = datetime.datetime.utcnow()
    t0 = time.time()
    scratch = tempfile.mkdtemp(prefix='ringlab_robustness_')
    rows = []
    try:
        has_run = subprocess.run([args.ringlab, 'run', '--help'], capture_output=True).returncode == 0
        args.has_run = has_run
        fx = casesmod.Fixtures(scratch, repo, has_run=has_run)
        todo = [c for c in casesmod.all_cases(fx) if (c.quick or not args.quick) and args.filter in c.label()
                and (have_xvfb or not c.xvfb)]
        for i, c in enumerate(todo):
            r = run_case(c, args, fx)
            rows.append(r)
            if r['verdict'] != 'ok':
                print(f"[{i + 1}/{len(todo)}] {r['verdict']}: {r['input']} -> {r['rc']} {r['message'][:100]}",
                      flush=True)
    finally:
        os.chmod(os.path.join(scratch, 'readonly'), 0o755)
        shutil.rmtree(scratch, ignore_errors=True)
    took = time.time() - t0
    if args.out:
        write_report(args.out, rows, args, started, took)
    _, failures, summary = summarize(rows)
    print(f'robustness: {summary} ({took:.0f} s)')
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
