"""Stage 7, report: counterexample files (JSON, Markdown, PNG), their replay, the main job that runs every
built-in variant and writes the summaries, and `isolate`, which runs a plug-in in a child process under a time
limit."""
from vaetheory.core.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "write_check_reports": "counterexample", "write_report": "counterexample", "load_report": "replay",
    "replay_report": "replay", "ReplayResult": "replay", "ReplaySettings": "replay", "append_finding": "counterexample",
    "distinct_bad_points": "counterexample", "render_png": "counterexample", "redraw_png": "counterexample",
    "run_main_job": "mainjob", "MainJobResult": "mainjob",
    "run_isolated": "isolate", "DEFAULT_PLUGIN_TIMEOUT": "isolate",
})
