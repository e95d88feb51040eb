"""ringlab from Python: context-parallel attention schedules, the simulator, sweeps, plans and traces.

    import ringlab
    cfg = ringlab.Config(world=8, seq=131072, heads=32, kv_heads=8, method="alltoall", pass_="both")
    sim = ringlab.simulate(cfg, profile="h100_sxm_calibrated")
    print(sim.step_time_us, ringlab.schedule(cfg).groupby("kind").size())
    df = ringlab.sweep({"world": [8, 16, 32], "seq": [131072, 262144]}, jobs=2)

The same C++ libraries as the `ringlab` CLI (core, sim, kernels/cpu), with the CLI's validation and numbers; CPU only.
"""
import os as _os

# The bundled simulator profiles ship inside the package; $RINGLAB_PROFILE_DIR, when set, still wins.
_os.environ.setdefault("RINGLAB_PROFILE_DIR", _os.path.join(_os.path.dirname(__file__), "profiles"))

from ringlab._config import FIELDS, Config  # noqa: E402
from ringlab._sim import DEFAULT_PROFILE, Profile, Simulation, load_profile, plan, schedule, simulate, sweep  # noqa: E402
from ringlab._trace import TRACE_COLUMNS, load_trace, per_rank, summarize_trace  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Config", "FIELDS", "DEFAULT_PROFILE", "Profile", "Simulation", "TRACE_COLUMNS", "load_profile",
           "load_trace", "per_rank", "plan", "schedule", "simulate", "summarize_trace", "sweep"]
