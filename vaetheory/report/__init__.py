"""Stage 7, report: counterexample files (JSON, Markdown, PNG), their replay, and the main job that runs every
built-in variant and writes the summaries."""
from vaetheory.core.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "write_check_reports": "counterexample", "write_report": "counterexample", "load_report": "counterexample",
    "replay_report": "counterexample", "ReplayResult": "counterexample", "append_finding": "counterexample",
    "run_main_job": "mainjob", "MainJobResult": "mainjob",
})
