"""The bad and extreme inputs the robustness harness tries, by class (run.py runs them).

A Case is one command line with what a correct program does with it:
  expect   'error'  a bad input: a non-zero exit with a message (exit 0 is reported as "accepted bad input")
           'ok'     an extreme but valid input: exit 0, or a clean error (exit 1..127) when it is over a stated limit
           'any'    either, as long as it does not crash, hang or leave a partial file
  write_fails  the output target cannot be written (/dev/full, a directory, a missing folder, a read-only folder):
           exit 0 is "exit 0 on a failed write"
  outputs  output paths to check afterwards: a file left behind by a failed run, or one that is not whole (invalid
           JSON/PNG) after a successful one, is a "partial file"
  stdout_json  the command writes JSON to standard output ('-'): anything else on stdout is "stdout not JSON"
Inputs are grouped by class so that a new bad input of a known class is covered by the class, not by the case.
"""
import json
import os
from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class Case:
    cls: str
    argv: List[str]
    expect: str = 'error'
    write_fails: bool = False
    outputs: List[str] = field(default_factory=list)
    stdout_json: bool = False
    mem_limit_mb: Optional[int] = None  # ulimit -v for this case (the default limit of run.py applies otherwise)
    xvfb: bool = False
    env: dict = field(default_factory=dict)
    quick: bool = False  # part of the quick subset (the ctest)
    timeout: Optional[int] = None
    expect_rc: Optional[int] = None  # this exit code exactly (e.g. 2 for a bad output, checked before any GPU)

    def label(self):
        return ' '.join(a if len(a) < 60 else a[:57] + '...' for a in self.argv)


# A small problem that every subcommand runs in well under a second.
SMALL = ['--world', '4', '--seq', '1024', '--heads', '4', '--kv-heads', '4', '--dim', '64']

NON_NUMBERS = ['abc', '', '1x', '0x10', '1,5', ' 3']
NEGATIVES = ['-1', '-2147483648']
ZEROS = ['0']
HUGE = ['1e9', '1e20', '99999999999999999999', '2147483648']
NAN_INF = ['nan', 'inf', '-inf', 'NaN']
FRACTIONS = ['1.5', '0.25']


class Fixtures:
    """Files the cases point at, made once in a scratch folder."""

    def __init__(self, root, repo, has_run=False):
        self.has_run = has_run  # the ringlab under test has `run` (a CUDA build)
        self.root = root
        self.repo = repo
        os.makedirs(root, exist_ok=True)
        self.out = os.path.join(root, 'out')  # where outputs go (checked for strays)
        os.makedirs(self.out, exist_ok=True)
        self.ro = os.path.join(root, 'readonly')
        os.makedirs(self.ro, exist_ok=True)
        os.chmod(self.ro, 0o555)
        self.a_dir = os.path.join(root, 'a_directory')
        os.makedirs(self.a_dir, exist_ok=True)
        self.missing = os.path.join(root, 'no_such_folder', 'x')
        base = json.load(open(os.path.join(repo, 'sim', 'profiles', 'h100_sxm.json')))
        self.profiles = {}
        self._profile('valid', json.dumps(base))
        self._profile('empty', '')
        self._profile('corrupt', json.dumps(base)[: len(json.dumps(base)) // 2])
        self._profile('not_object', '[1, 2, 3]')
        self._profile('nested', '{"a":' * 100000 + '1' + '}' * 100000)
        self._profile('huge', json.dumps(dict(base, padding='x' * (64 << 20))))
        unknown = json.loads(json.dumps(base))
        unknown.setdefault('network', {})['nlvink_gpbs'] = {'value': 900, 'source': 'typo'}
        self._profile('unknown_key', json.dumps(unknown))
        text = json.dumps(base)
        self._profile('duplicate_key', text.replace('{', '{"name": "first", ', 1))
        neg = json.loads(json.dumps(base))
        for k, v in neg.get('compute', {}).items():
            if isinstance(v, dict) and 'value' in v and isinstance(v['value'], (int, float)):
                v['value'] = -1
                break
        self._profile('negative_value', json.dumps(neg))
        self._profile('nan_value', json.dumps(base).replace('989', 'NaN', 1))
        self._profile('binary', '\x00\xff\xfe' * 1000)
        peak = lambda v: text.replace('"value": 989', '"value": ' + v, 1)
        self._profile('wrong_type', peak('"fast"'))
        self._profile('bool_value', peak('true'))
        self._profile('null_value', peak('null'))
        self._profile('huge_number', peak('1e308'))
        self._profile('overflow_number', peak('1e400'))
        self._profile('inf_literal', peak('Infinity'))
        self._profile('zero_value', peak('0'))
        self._profile('empty_object', '{}')
        self._profile('value_as_list', peak('[989]'))
        nested_dup = json.dumps(base).replace('"peak_tflops": {', '"peak_tflops": {"value": 1, ', 1)
        self._profile('duplicate_nested_key', nested_dup)
        self._profile('bom', '\xef\xbb\xbf' + json.dumps(base))
        self._profile('trailing_garbage', json.dumps(base) + ' x')
        self.traces = {}
        ev = lambda ts, dur=5, tid=0: {'ph': 'X', 'name': 'k', 'cat': 'kernel', 'pid': 0, 'tid': tid, 'ts': ts,
                                      'dur': dur}
        self._trace('valid', json.dumps({'traceEvents': [ev(0), ev(10), ev(3, 2, 1)]}))
        self._trace('epoch_ns', json.dumps({'traceEvents': [ev(1700000000000000000), ev(1700000000000000500)]}))
        self._trace('epoch_us', json.dumps({'traceEvents': [ev(1.7e15), ev(1.7e15 + 3.5)]}))
        self._trace('ts_1e16', json.dumps({'traceEvents': [ev(1e16)]}))
        self._trace('ts_1e18_one', '{"traceEvents":[{"ph":"X","name":"k","pid":0,"tid":0,"ts":1e18,"dur":1}]}')
        self._trace('mixed_clocks', json.dumps({'traceEvents': [ev(0), ev(1.7e18)]}))
        self._trace('empty', '')
        self._trace('truncated', '{"traceEvents":[{"ph":"X","ts":')
        self._trace('nested', '[' * 100000)
        self._trace('no_events', '{"traceEvents":[]}')
        self._trace('many_lanes', json.dumps({'traceEvents': [ev(i, 1, i) for i in range(300000)]}))
        self._trace('huge_dur', json.dumps({'traceEvents': [ev(0, 1e300)]}))
        self._trace('neg_dur', json.dumps({'traceEvents': [ev(0, -5)]}))
        self._trace('nan_ts', '{"traceEvents":[{"ph":"X","ts":NaN,"dur":1}]}')
        self._trace('binary', '\x1f\x8b\x08\x00garbage' * 100)
        self._trace('string_ts', '{"traceEvents":[{"ph":"X","name":"k","pid":0,"tid":0,"ts":"12","dur":1}]}')
        self._trace('negative_ts', json.dumps({'traceEvents': [ev(-1e12), ev(5)]}))
        self._trace('unknown_ph', json.dumps({'traceEvents': [dict(ev(0), ph='Q'), ev(1)]}))
        self._trace('missing_fields', '{"traceEvents":[{"ph":"X"},{}]}')
        self._trace('events_not_list', '{"traceEvents":{"ph":"X"}}')
        self._trace('huge_tid', json.dumps({'traceEvents': [ev(0, 1, 2 ** 62), ev(1, 1, -2 ** 62)]}))
        self._trace('ts_overflow', '{"traceEvents":[{"ph":"X","name":"k","pid":0,"tid":0,"ts":1e400,"dur":1}]}')
        self._trace('bom', '\xef\xbb\xbf' + json.dumps({'traceEvents': [ev(0)]}))
        self._trace('bare_array', json.dumps([ev(0), ev(3)]))
        self._trace('long_name', json.dumps({'traceEvents': [dict(ev(0), name='n' * (1 << 20))]}))
        self.npy = {}
        self._npy('binary', b'\x00\xff' * 100)
        self._npy('bad_magic', b'NOTNUMPY' + b'\x00' * 100)
        self._npy('truncated', b'\x93NUMPY\x01\x00\x46\x00' + b"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 1024, 64), }")
        self._npy('huge_header', b'\x93NUMPY\x02\x00\xff\xff\xff\x7f')
        self.fifo = os.path.join(root, 'a_fifo')
        os.mkfifo(self.fifo)
        self.samples = {}
        self._samples('valid', json.dumps({'sms': 132, 'kernels': [
            {'pass': 'forward', 'mask': 'full', 'head_dim': 128, 'batch': 1, 'heads': 8, 'kv_heads': 8, 'q': 4096,
             'kv': 4096, 'pairs': 4096 * 4096, 'us': 180.0}]}))
        self._samples('zero', json.dumps({'sms': 132, 'kernels': []}))
        self._samples('corrupt', '{"sms": 132, "kernels": [')
        self._samples('wrong_types', '{"sms": "x", "kernels": {}}')
        k = {'pass': 'forward', 'mask': 'full', 'head_dim': 128, 'batch': 1, 'heads': 8, 'kv_heads': 8, 'q': 4096,
             'kv': 4096, 'pairs': 4096 * 4096, 'us': 180.0}
        for name, key, value in [('negative_us', 'us', -1.0), ('zero_us', 'us', 0.0), ('huge_us', 'us', 1e308),
                                 ('string_us', 'us', 'fast'), ('negative_heads', 'heads', -8),
                                 ('huge_q', 'q', 10 ** 30), ('unknown_pass', 'pass', 'sideways')]:
            self._samples(name, json.dumps({'sms': 132, 'kernels': [dict(k, **{key: value})]}))
        self._samples('nan_us', json.dumps({'sms': 132, 'kernels': [k]}).replace('180.0', 'NaN'))
        self._samples('unknown_key', json.dumps({'sms': 132, 'kernals': [k]}))
        self._samples('duplicate_key', '{"sms": 132, "sms": 100, "kernels": ' + json.dumps([k]) + '}')
        self._samples('nested', '{"a":' * 100000 + '1' + '}' * 100000)
        self._samples('binary', '\x00\xff\xfe' * 1000)
        self._samples('negative_sms', json.dumps({'sms': -132, 'kernels': [k]}))

    def _write(self, kind, name, text):
        path = os.path.join(self.root, f'{kind}_{name}.json')
        with open(path, 'w', encoding='latin-1') as f:
            f.write(text)
        return path

    def _npy(self, name, data):
        path = os.path.join(self.root, f'npy_{name}.npy')
        with open(path, 'wb') as f:
            f.write(data)
        self.npy[name] = path

    def _profile(self, name, text):
        self.profiles[name] = self._write('profile', name, text)

    def _trace(self, name, text):
        self.traces[name] = self._write('trace', name, text)

    def _samples(self, name, text):
        self.samples[name] = self._write('samples', name, text)

    def outpath(self, name):
        return os.path.join(self.out, name)

    def unwritable(self, name):
        """(label, path) of output targets that cannot be written."""
        # Root writes into a folder whatever its mode: then /proc stands in (no file can be made there).
        ro = ('a read-only folder', os.path.join(self.ro, name)) if os.geteuid() != 0 else \
            ('a read-only folder (/proc, as root)', os.path.join('/proc', name))
        return [('/dev/full', '/dev/full'), ('a directory', self.a_dir), ('a missing folder', self.missing + name), ro]


def with_opt(argv, opt, value):
    """argv with opt set to value: replaced where argv has it (a bad value, not a duplicate flag), else appended."""
    argv = list(argv)
    if opt in argv and argv.index(opt) + 1 < len(argv):
        argv[argv.index(opt) + 1] = value
        return argv
    return argv + [opt, value]


def schedule_cases(fx):
    cs = []
    for opt in ['--world', '--seq', '--heads', '--kv-heads', '--dim', '--batch']:
        for v in NON_NUMBERS[:3] + NEGATIVES[:1] + ZEROS + HUGE[1:3] + NAN_INF[:2] + FRACTIONS[:1]:
            argv = with_opt(['schedule'] + SMALL, opt, v)
            cs.append(Case(f'{opt} {"huge" if v in HUGE else "bad value"}', argv, quick=(opt == '--world' and v == '0')))
    for opt, bad in [('--method', 'ringy'), ('--sharding', 'diagonal'), ('--pass', 'sideways'), ('--dtype', 'int3')]:
        cs.append(Case('unknown enum', ['schedule'] + SMALL + [opt, bad], quick=opt == '--pass'))
        cs.append(Case('missing value', ['schedule'] + SMALL + [opt]))
    cs.append(Case('duplicate flag', ['schedule'] + SMALL + ['--world', '4', '--world', '8'], expect='any'))
    cs.append(Case('duplicate flag', ['schedule'] + SMALL + ['--method', 'allgather', '--method', 'alltoall'],
                   expect='any'))
    cs.append(Case('unknown flag', ['schedule'] + SMALL + ['--wrld', '4']))
    cs.append(Case('stray positional', ['schedule'] + SMALL + ['extra']))
    cs.append(Case('kv-heads not dividing heads', with_opt(['schedule'] + SMALL, '--kv-heads', '3')))
    cs.append(Case('seq not divisible', ['schedule', '--world', '3', '--seq', '1000']))
    cs.append(Case('seq not divisible', ['schedule', '--world', '3', '--seq', '126', '--sharding', 'balanced',
                                         '--mask', 'causal+docs-synthetic:fixed-7']))
    # Output targets.
    j = fx.outpath('sched.json')
    cs.append(Case('valid output', ['schedule'] + SMALL + ['--json', j], expect='ok', outputs=[j], quick=True))
    cs.append(Case('- as output', ['schedule'] + SMALL + ['--json', '-'], expect='ok', stdout_json=True, quick=True))
    for label, path in fx.unwritable('sched.json'):
        cs.append(Case(f'unwritable output: {label}', ['schedule'] + SMALL + ['--json', path], write_fails=True,
                       outputs=[path], quick=label == '/dev/full'))
    # Memory and size blow-ups under the address-space limit.
    for w, s in [('1000000000', '2000000000'), ('16384', '1048576'), ('1048576', '1048576'), ('65536', '65536'),
                 ('4096', '9223372036854775807')]:
        cs.append(Case('size blow-up', ['schedule', '--world', w, '--seq', s], expect='any', mem_limit_mb=4096,
                       quick=w == '1000000000'))
    cs.append(Case('size blow-up', ['schedule', '--world', '16384', '--seq', '1048576', '--sharding', 'contiguous'],
                   expect='any', mem_limit_mb=4096))
    return cs


def check_cases(fx):
    cs = []
    base = ['check', '--world', '2', '--seq', '256', '--heads', '2', '--kv-heads', '2', '--dim', '32']
    for v in ['0', '-1', 'nan', 'inf', 'abc', '1e400']:
        cs.append(Case('--tolerance bad value', base + ['--tolerance', v], quick=v == 'nan'))
    for v in ['fp16', 'int8', '']:
        cs.append(Case('unknown enum', base + ['--precision', v]))
    cs.append(Case('unknown enum', base + ['--pass', 'sideways'], quick=True))
    for v in ['-1', 'abc', '1e20', '18446744073709551616']:
        cs.append(Case('--seed bad value', base + ['--seed', v]))
    t = fx.outpath('check_trace.json')
    cs.append(Case('valid output', base + ['--trace', t], expect='ok', outputs=[t]))
    cs.append(Case('- as output', base + ['--trace', '-'], expect='ok', stdout_json=True))
    for label, path in fx.unwritable('check_trace.json'):
        cs.append(Case(f'unwritable output: {label}', base + ['--trace', path], write_fails=True, outputs=[path],
                       quick=label == 'a missing folder'))
    for w, s in [('1024', '32768'), ('1000000000', '2000000000'), ('4096', '4096')]:
        cs.append(Case('size blow-up', ['check', '--world', w, '--seq', s, '--heads', '1', '--kv-heads', '1', '--dim', '8'],
                       expect='any', mem_limit_mb=4096))
    cs.append(Case('missing value', base + ['--trace']))
    cs.append(Case('duplicate flag', base + ['--seed', '1', '--seed', '2'], expect='any'))
    return cs


def sim_cases(fx):
    cs = []
    base = ['sim'] + SMALL
    for opt in ['--nodes', '--gpus-per-node']:
        for v in ['0', '-1', 'abc', '1e20', '1.5', '3']:
            cs.append(Case(f'{opt} bad value', base + [opt, v], expect='any' if v == '3' else 'error',
                           quick=v == '0' and opt == '--nodes'))
    for v in ['ring', '', 'BLOCK']:
        cs.append(Case('unknown enum', base + ['--placement', v]))
    for v in ['0,1,99', 'x', '-1', '0,,1', '9999999999']:
        cs.append(Case('--trace-ranks bad value', base + ['--trace-ranks', v, '--trace', fx.outpath('tr.json')],
                       expect='any', outputs=[fx.outpath('tr.json')]))
    for name, path in fx.profiles.items():
        expect = 'ok' if name == 'valid' else 'any' if name in ('bom', 'huge_number') else 'error'
        cs.append(Case(f'profile: {name}', base + ['--profile', path], expect=expect,
                       quick=name in ('corrupt', 'unknown_key', 'duplicate_key', 'nested')))
    cs.append(Case('profile: a directory', base + ['--profile', fx.a_dir], quick=True))
    cs.append(Case('profile: missing', base + ['--profile', 'no_such_profile']))
    cs.append(Case('profile: /dev/null', base + ['--profile', '/dev/null']))
    j, t = fx.outpath('sim.json'), fx.outpath('sim_trace.json')
    cs.append(Case('valid output', base + ['--json', j, '--trace', t], expect='ok', outputs=[j, t]))
    cs.append(Case('- as output', base + ['--json', '-'], expect='ok', stdout_json=True, quick=True))
    cs.append(Case('- as output', base + ['--trace', '-'], expect='ok', stdout_json=True))
    cs.append(Case('- as output', base + ['--method', 'both', '--json', '-'], expect='ok', stdout_json=True))
    for label, path in fx.unwritable('sim.json'):
        cs.append(Case(f'unwritable output: {label}', base + ['--json', path], write_fails=True, outputs=[path]))
        cs.append(Case(f'unwritable output: {label}', base + ['--trace', path], write_fails=True, outputs=[path],
                       quick=label == '/dev/full'))
        cs.append(Case(f'unwritable output: {label} (several configs)', base + ['--method', 'both', '--trace', path],
                       write_fails=True, outputs=[path]))
    cs.append(Case('one of two outputs fails', base + ['--json', j + '.2', '--trace', '/dev/full'], write_fails=True,
                   outputs=[j + '.2']))
    for w, s, extra in [('1000000000', '2000000000', []), ('16384', '1048576', ['--sharding', 'contiguous']),
                        ('4096', '65536', ['--sharding', 'contiguous']), ('65536', '1048576', [])]:
        # W = 16384 contiguous takes the general engine (~3 min with a progress line and ETA): a long run, not a hang.
        cs.append(Case('size blow-up', ['sim', '--world', w, '--seq', s] + extra, expect='any', mem_limit_mb=4096,
                       quick=w == '1000000000', timeout=400 if w == '16384' else None))
    cs.append(Case('missing value', base + ['--profile']))
    cs.append(Case('duplicate flag', base + ['--profile', 'h100_sxm', '--profile', 'h200'], expect='any'))
    return cs


def sweep_cases(fx):
    cs = []
    base = ['sweep', '--worlds', '2,4', '--seqs', '1024', '--heads', '4', '--kv-heads', '4', '--dim', '64']
    for v in ['0', '-3', 'abc', '1e9', '100000']:
        cs.append(Case('-j bad value', base + ['-j', v], expect='any' if v == '100000' else 'error',
                       quick=v == '0'))
    for opt, vals in [('--worlds', ['', '0', '-4', 'a,b', '2,,4', '1e9', '4,4,4']),
                      ('--seqs', ['', '0', '-1', 'x', '1e20', '3']),
                      ('--methods', ['ring', 'allgather,', '']),
                      ('--passes', ['up', 'forward,', '']),
                      ('--shard', ['3/2', '0/0', '-1/4', 'x', '1/1000000000', '5'])]:
        for v in vals:
            cs.append(Case(f'{opt} bad value', with_opt(base, opt, v),
                           expect='any' if v == '4,4,4' else 'error'))
    c, j = fx.outpath('sweep.csv'), fx.outpath('sweep.json')
    cs.append(Case('valid output', base + ['--csv', c, '--json', j], expect='ok', outputs=[j]))
    cs.append(Case('- as output', base + ['--json', '-'], expect='ok', stdout_json=True, quick=True))
    for label, path in fx.unwritable('sweep.csv'):
        cs.append(Case(f'unwritable output: {label}', base + ['--csv', path], write_fails=True, outputs=[path],
                       quick=label == '/dev/full'))
        cs.append(Case(f'unwritable output: {label}', base + ['--json', path], write_fails=True, outputs=[path]))
    for name in ['corrupt', 'unknown_key', 'empty']:
        cs.append(Case(f'profile: {name}', base + ['--profile', fx.profiles[name]]))
    cs.append(Case('size blow-up', ['sweep', '--worlds', '1000000000', '--seqs', '2000000000'], expect='any',
                   mem_limit_mb=4096, quick=True))
    cs.append(Case('size blow-up', ['sweep', '--worlds', '16384', '--seqs', '1048576', '--sharding', 'contiguous'],
                   expect='any', mem_limit_mb=4096, timeout=400))  # the general engine, as in sim's case
    return cs


def fit_profile_cases(fx):
    cs = []
    o = fx.outpath('fitted.json')
    base = ['fit-profile', '--out', o]
    cs.append(Case('valid samples', base + ['--samples', fx.samples['valid']], expect='any', outputs=[o]))
    for name in [n for n in fx.samples if n != 'valid']:
        cs.append(Case(f'samples: {name}', base + ['--samples', fx.samples[name]], outputs=[o],
                       expect='any' if name in ('huge_us', 'huge_q') else 'error', quick=name == 'zero'))
    cs.append(Case('samples: a trace', base + ['--samples', fx.traces['valid']], outputs=[o], quick=True))
    cs.append(Case('samples: a directory', base + ['--samples', fx.a_dir], outputs=[o]))
    cs.append(Case('samples: missing', base + ['--samples', fx.missing]))
    cs.append(Case('samples: empty file', base + ['--samples', fx.traces['empty']], outputs=[o]))
    for name in ['corrupt', 'unknown_key', 'duplicate_key', 'nested', 'empty']:
        cs.append(Case(f'base profile: {name}', base + ['--samples', fx.samples['valid'], '--base', fx.profiles[name]],
                       outputs=[o]))
    for label, path in fx.unwritable('fitted.json'):
        cs.append(Case(f'unwritable output: {label}', ['fit-profile', '--samples', fx.samples['valid'], '--out', path],
                       write_fails=True, outputs=[path]))
    cs.append(Case('- as output', ['fit-profile', '--samples', fx.samples['valid'], '--out', '-'], expect='any',
                   stdout_json=True))
    cs.append(Case('missing value', ['fit-profile', '--samples']))
    cs.append(Case('missing required', ['fit-profile', '--samples', fx.samples['valid']]))
    return cs


def calibrate_cases(fx):
    cs = []
    base = ['calibrate', '--dry-run']
    cs.append(Case('valid dry run', base, expect='any'))
    for v in ['-1', 'abc', '1e9', '0,0', '']:
        cs.append(Case('--gpus bad value', base + ['--gpus', v], quick=v == '-1'))
    for opt in ['--fwd-tile', '--bwd-tile']:
        for v in ['7x9', '0x0', 'x', '128', '-64x64', '1e9x1e9']:
            cs.append(Case(f'{opt} bad value', base + [opt, v], quick=v == '7x9'))
    for v in ['96', '64,64', '', 'abc', '256,', '1e9', '64;128']:
        cs.append(Case('--head-dims bad value', base + ['--head-dims', v], quick=v == '96'))
    cs.append(Case('--head-dims one of them', base + ['--head-dims', '256'], expect='any'))
    for opt in ['--warmup', '--reps', '--sustain-ms', '--preheat-ms', '--ctas-per-sm']:
        for v in ['-1', 'nan', 'abc', '1e20']:
            cs.append(Case(f'{opt} bad value', base + [opt, v]))
    for name in ['corrupt', 'unknown_key', 'empty']:
        cs.append(Case(f'base profile: {name}', base + ['--base', fx.profiles[name]]))
    cs.append(Case('base profile: missing', base + ['--base', 'no_such_profile'], quick=True))
    cs.append(Case('base profile: a directory', base + ['--base', fx.a_dir]))
    return cs


def view_cases(fx, via_cli):
    """ringlab-view directly, or as `ringlab view` (via_cli)."""
    cs = []
    pre = ['view'] if via_cli else ['@view']
    shot = fx.outpath('shot.png')
    for name, path in fx.traces.items():
        valid = name in ('valid', 'epoch_ns', 'epoch_us', 'ts_1e16', 'ts_1e18_one', 'mixed_clocks', 'huge_dur')
        either = name in ('many_lanes', 'string_ts', 'negative_ts', 'unknown_ph', 'missing_fields', 'huge_tid',
                          'ts_overflow', 'bom', 'bare_array', 'long_name')
        cs.append(Case(f'trace: {name}', pre + [path, '--screenshot', shot, '--width', '320', '--height', '200'],
                       expect='ok' if valid else 'any' if either else 'error', xvfb=True,
                       outputs=[shot], mem_limit_mb=4096,
                       quick=not via_cli and name in ('ts_1e16', 'epoch_ns', 'nested', 'truncated')))
    cs.append(Case('trace: a directory', pre + [fx.a_dir, '--screenshot', shot], quick=not via_cli))
    cs.append(Case('trace: missing', pre + [fx.missing, '--screenshot', shot]))
    cs.append(Case('trace: /dev/null', pre + ['/dev/null', '--screenshot', shot]))
    cs.append(Case('trace: a profile', pre + [fx.profiles['valid'], '--screenshot', shot], xvfb=True))
    for label, path in fx.unwritable('shot.png'):
        cs.append(Case(f'unwritable output: {label}', pre + [fx.traces['valid'], '--screenshot', path, '--width',
                                                             '200', '--height', '100'],
                       write_fails=True, xvfb=True, outputs=[path], quick=not via_cli and label == '/dev/full'))
    lay = fx.outpath('layout.json')
    cs.append(Case('--layout into a missing folder', pre + [fx.traces['valid'], '--screenshot', shot, '--layout',
                                                          fx.missing + 'layout.json'],
                   write_fails=True, xvfb=True, outputs=[shot], quick=not via_cli))
    cs.append(Case('--layout without --screenshot', pre + [fx.traces['valid'], '--layout', lay]))
    cs.append(Case('- as output', pre + [fx.traces['valid'], '--screenshot', '-', '--width', '200', '--height',
                                         '100'], expect='ok', xvfb=True))
    for opt in ['--width', '--height', '--frames', '--bench-frames']:
        for v in ['0', '-1', 'abc', '1e9', '99999']:
            if opt == '--bench-frames' and v == '0':
                continue  # 0 is the default (no frame benchmark), not a bad value
            cs.append(Case(f'{opt} bad value', pre + [fx.traces['valid'], '--screenshot', shot, opt, v]))
    for v in ['5:1', 'a:b', '1', 'nan:inf', '0:1e400']:
        cs.append(Case('--range-us bad value', pre + [fx.traces['valid'], '--screenshot', shot, '--range-us', v]))
    for v in ['0:99999', 'x:1', '-1:-1', '99999999999:0']:
        cs.append(Case('--select bad value', pre + [fx.traces['valid'], '--screenshot', shot, '--select', v],
                       xvfb=True))
    cs.append(Case('--compare with one file', pre + [fx.traces['valid'], '--compare', '--screenshot', shot]))
    cs.append(Case('unknown flag', pre + [fx.traces['valid'], '--screenshoot', shot]))
    cs.append(Case('missing value', pre + [fx.traces['valid'], '--screenshot']))
    cs.append(Case('no display', pre + [fx.traces['valid']], env={'DISPLAY': ''}))
    cs.append(Case('memory budget', pre + [fx.traces['many_lanes'], '--screenshot', shot],
                   env={'RINGLAB_VIEW_MEMORY_MB': '8'}, quick=not via_cli))
    return cs


def global_cases(fx):
    return [Case('no subcommand', [], expect='any'),
            Case('unknown subcommand', ['scheduel']),
            Case('help', ['--help'], expect='ok'),
            Case('run without GPUs', ['run'] + SMALL, expect='any')]


INT_CLASSES = NON_NUMBERS + NEGATIVES + ZEROS + HUGE + NAN_INF[:2] + FRACTIONS[:1]


def plan_cases(fx):
    cs = []
    base = ['plan', '--heads', '8', '--kv-heads', '8', '--seq', '8192', '--gpus-per-node', '4', '--workers', '1']
    for opt in ['--heads', '--kv-heads', '--dim', '--seq', '--batch', '--nodes', '--gpus-per-node']:
        for v in INT_CLASSES:
            valid = opt == '--seq' and v == '2147483648'  # a whole number in --seq's int64 range: a long plan
            cs.append(Case(f'plan {opt} {"huge" if valid else "bad value"}', with_opt(base, opt, v),
                           expect='any' if valid else 'error', quick=(opt == '--nodes' and v == '0')))
    for v in ['-1', '-5', 'abc', '1e20', '100000', '1.5']:
        cs.append(Case('plan --workers bad value', with_opt(base, '--workers', v), expect='any' if v == '100000'
                       else 'error'))
    for opt, vals in [('--methods', ['ring', 'allgather,', '', ',', 'allgather,,alltoall']),
                      ('--shardings', ['diagonal', 'head-tail,', '']), ('--dtype', ['int3', ''])]:
        for v in vals:
            cs.append(Case(f'plan {opt} bad value', base + [opt, v]))
    for gpn, nodes in [('2147483647', '1'), ('65536', '65536'), ('65536', '1'), ('8', '1000000')]:
        cs.append(Case('plan size blow-up', with_opt(with_opt(base, '--gpus-per-node', gpn), '--nodes', nodes),
                       expect='any', mem_limit_mb=4096, quick=gpn == '2147483647'))
    j = fx.outpath('plan.json')
    cs.append(Case('valid output', base + ['--json', j], expect='ok', outputs=[j]))
    cs.append(Case('- as output', base + ['--json', '-'], expect='ok', stdout_json=True))
    for label, path in fx.unwritable('plan.json'):
        cs.append(Case(f'unwritable output: {label}', base + ['--json', path], write_fails=True, outputs=[path],
                       expect_rc=2, quick=label == '/dev/full'))
    for name in ['corrupt', 'unknown_key', 'wrong_type', 'empty_object']:
        cs.append(Case(f'profile: {name}', base + ['--profile', fx.profiles[name]]))
    return cs


def run_cases(fx):
    """`ringlab run` where the binary has it: every bad flag, input and output is exit 2 before any GPU is asked for."""
    cs = []
    base = ['run'] + SMALL + ['--iters', '1', '--warmup', '0']
    for opt, vals in [('--iters', ['0', '-1', 'abc', '1e9', '1.5']), ('--warmup', ['-1', 'abc', '1e20']),
                      ('--gpus', ['-1', 'abc', '1e20']), ('--timeout', ['0', '-1', 'nan', 'inf', 'abc']),
                      ('--warmup-ms', ['-1', 'nan', 'inf', '1e20']), ('--seed', ['-1', 'abc', '1e20']),
                      ('--method', ['ring']), ('--pass', ['sideways'])]:
        for v in vals:
            cs.append(Case(f'run {opt} bad value', with_opt(base, opt, v), expect_rc=2))
    for name, path in list(fx.npy.items()) + [('a directory', fx.a_dir), ('missing', fx.missing),
                                              ('a profile', fx.profiles['valid'])]:
        cs.append(Case(f'run --q input: {name}', base + ['--q', path, '--k', path, '--v', path], expect_rc=2))
    cs.append(Case('run --q without --k/--v', base + ['--q', fx.npy['binary']], expect_rc=2))
    for label, path in fx.unwritable('run.json'):
        for flag in ['--json', '--trace']:
            cs.append(Case(f'run unwritable output: {label}', base + [flag, path], write_fails=True, outputs=[path],
                           expect_rc=2, quick=label == '/dev/full' and flag == '--json'))
    for label, path in [('a file', fx.profiles['valid']), ('a missing folder', fx.missing + 'run_out/x'),
                        ('-', '-'), ('/dev/full', '/dev/full'), fx.unwritable('t')[-1]]:
        cs.append(Case(f'run --out: {label}', base + ['--out', path], write_fails=True, expect_rc=2))
    same = fx.outpath('same.json')
    cs.append(Case('same path for two outputs', base + ['--json', same, '--trace', same], expect_rc=2,
                   outputs=[same]))
    cs.append(Case('run --trace-iterations without --trace', base + ['--trace-iterations'], expect_rc=2))
    cs.append(Case('run too many files', base + ['--trace', fx.outpath('t.json'), '--trace-iterations', '--iters',
                                                 '1000000'], expect_rc=2))
    for env in [{'RANK': 'abc', 'WORLD_SIZE': '4', 'LOCAL_RANK': '0'}, {'RANK': '5', 'WORLD_SIZE': '4'},
                {'RANK': '0', 'WORLD_SIZE': '0'}, {'RANK': '-1', 'WORLD_SIZE': '-4', 'LOCAL_RANK': '-1'},
                {'RANK': '0', 'WORLD_SIZE': '2', 'LOCAL_RANK': '0', 'MASTER_ADDR': 'x', 'MASTER_PORT': 'abc'}]:
        cs.append(Case('run launcher environment', base, env=env, expect='any', timeout=30))
    return cs


def output_path_cases(fx):
    """Output paths of every kind beside the unwritable ones: one file named twice, a trailing slash, a name too long
    for the file system, a fifo, a path through a file."""
    cs = []
    s = fx.outpath('same.json')
    small = ['--world', '4', '--seq', '1024', '--heads', '4', '--kv-heads', '4', '--dim', '64']
    cs.append(Case('same path for two outputs', ['sim'] + small + ['--json', s, '--trace', s], outputs=[s],
                   expect_rc=2, quick=True))
    cs.append(Case('same path for two outputs', ['sweep', '--worlds', '2', '--seqs', '1024', '--heads', '4',
                                                 '--kv-heads', '4', '--dim', '64', '--csv', s, '--json', s],
                   outputs=[s], expect_rc=2))
    cs.append(Case('same path for two outputs', ['sim'] + small + ['--json', s, '--trace', fx.out + '/./same.json'],
                   outputs=[s], expect_rc=2))
    long_name = fx.outpath('x' * 300 + '.json')
    for label, path in [('a trailing slash', fx.outpath('dir/')), ('a name too long', long_name),
                        ('a path through a file', os.path.join(fx.profiles['valid'], 'x.json')),
                        ('an empty name', '')]:
        cs.append(Case(f'output path: {label}', ['schedule'] + small + ['--json', path], write_fails=True,
                       expect_rc=2))
        cs.append(Case(f'output path: {label}', ['sim'] + small + ['--trace', path], write_fails=True, expect_rc=2))
    return cs


def env_cases(fx):
    """The environment variables the project reads, with bad values."""
    cs = []
    small = ['sim', '--world', '4', '--seq', '1024', '--heads', '4', '--kv-heads', '4', '--dim', '64']
    for v in ['abc', '-1', 'nan', '1e400', '', '0']:
        cs.append(Case('RINGLAB_PROGRESS_AFTER_S', small, env={'RINGLAB_PROGRESS_AFTER_S': v}, expect='ok'))
    for label, v in [('missing folder', fx.missing), ('a file', fx.profiles['valid']), ('empty', ''),
                     ('a folder without profiles', fx.a_dir)]:
        cs.append(Case(f'RINGLAB_PROFILE_DIR: {label}', small, env={'RINGLAB_PROFILE_DIR': v},
                       expect='ok' if label == 'empty' else 'error'))
    for v in ['0', '-1', 'abc', '1e20', '99999999999999999999', '']:
        cs.append(Case('RINGLAB_VIEW_MEMORY_MB', ['@view', fx.traces['valid'], '--screenshot', fx.outpath('m.png')],
                       env={'RINGLAB_VIEW_MEMORY_MB': v}, expect='any', xvfb=True, outputs=[fx.outpath('m.png')]))
    return cs


def all_cases(fx):
    cases = (global_cases(fx) + schedule_cases(fx) + check_cases(fx) + sim_cases(fx) + sweep_cases(fx) +
             fit_profile_cases(fx) + calibrate_cases(fx) + view_cases(fx, via_cli=False) +
             view_cases(fx, via_cli=True) + plan_cases(fx) + output_path_cases(fx) + env_cases(fx) +
             (run_cases(fx) if fx.has_run else []))
    return cases
