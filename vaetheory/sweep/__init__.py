"""Stage 8, sweep: grids of problems × variants × γ modes run as independent tasks on Dask (`run`), one Parquet
file per task in a resumable folder (`store`), TOML specs (`spec`) and the DuckDB summary with Wilson intervals
and heat maps (`report`). See docs/sweeps.md. Nothing below imports this stage; the CLI does
(``vaetheory sweep``)."""
from vaetheory.core.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "SweepSpec": "spec", "load_spec": "spec", "spec_from_text": "spec", "parse_spec": "spec", "GammaMode": "spec",
    "Cell": "spec", "TaskKey": "spec", "run_task": "tasks", "ROW_FIELDS": "tasks", "SweepDir": "store",
    "run_sweep": "run", "SweepRun": "run", "write_summary": "report", "wilson_interval": "report",
    "SweepSummary": "report",
})
