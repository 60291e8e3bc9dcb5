"""The report figure, drawn from numbers alone (no objective, no problem): `ReportFigure`.

One run writes a report per distinct bad minimum (23 for ae-log on a d = 20 problem), all with the same panels,
axes and labels. Building the figure, its axes, ticks, legends and colorbar anew for each took about a third of a
report's time, so a `ReportFigure` is built once per run and each report only swaps its data artists and limits
before the figure is drawn again.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

# √-spaced tick positions of the energy-plane panel (the grid is uniform in √s, √t)
PLANE_TICKS = np.array([0.0, 0.01, 0.1, 0.3, 0.6, 1.0])


@dataclass(frozen=True)
class FigureData:
    """What one report's figure shows.

    barrier: `barrier_on_segment`'s dict (t, rel, height, t_peak, t_cross); scales (2, κ): latent scales of the
    bad and the optimal point; plane: `energy_plane`'s dict (s, t, E); gamma_profile: the learned-γ profile dict
    or None; gamma_floor: the floor (learned γ) or None; title: the figure's title."""

    barrier: dict
    scales: np.ndarray
    plane: dict
    bad_support: list[int]
    opt_support: list[int]
    gamma_profile: dict | None
    gamma_floor: float | None
    title: str


class ReportFigure:
    """Three panels (four with γ learned), built once; `draw` puts one report's data in and returns the PNG.

    (1) the barrier: E(t) − E(bad) on the segment from the bad point to an optimal point, zoomed to where the energy
    first falls below the bad point's, its height in the title; (2) the latent scales of the bad and the optimal
    point as bars over the κ columns, supports marked; (3) the energy on the plane through the bad point, the
    optimal point and max(bad, optimal); (4) with γ learned, the energy along γ through the point."""

    def __init__(self, kappa: int, scale_label: str, with_gamma: bool) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

        self.kappa, self.with_gamma = kappa, with_gamma
        # a bare Figure (not pyplot's): nothing global to close, freed with this object
        self.fig = Figure(figsize=(19 if with_gamma else 15, 4.6))
        FigureCanvasAgg(self.fig)
        self.axes = self.fig.subplots(1, 4 if with_gamma else 3,
                                      gridspec_kw={"width_ratios": [1, 1.25, 1.1] + ([0.9] if with_gamma else [])})
        ax = self.axes[0]
        ax.set_xlabel("t along the segment (0 = bad point, 1 = optimal point)")
        ax.set_ylabel("E(t) − E(bad point)")
        ax = self.axes[1]
        x = np.arange(kappa)
        ax.set_yscale("log")
        # at most 6 labelled decades, as plain "1e-5" text, and no minor ticks (about 80 over ten decades)
        ax.yaxis.set_major_locator(LogLocator(numticks=6))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"1e{np.log10(v):.0f}"))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xticks(x if kappa <= 20 else x[:: 5 if kappa <= 100 else max(5, kappa // 20)])
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlim(-0.8, kappa - 0.2)
        ax.set_xlabel("latent column j (κ columns)")
        ax.set_ylabel(scale_label)
        ax = self.axes[2]
        for axis in ("x", "y"):  # √ axes: the grid is dense near the bad point, where the barrier is
            getattr(ax, f"set_{axis}ticks")(np.sqrt(PLANE_TICKS), [f"{t:g}" for t in PLANE_TICKS])
            getattr(ax, f"set_{axis}lim")(0.0, 1.0)
        ax.set_xlabel("s: toward the optimal point (√ scale)")
        ax.set_ylabel("t: toward max(bad, optimal) (√ scale)")
        ax.set_title("energy on the plane through the three points (black: E = E(bad))", fontsize=9, y=1.0)
        if with_gamma:
            ax = self.axes[3]
            ax.set_xscale("log")
            ax.set_xlabel("γ (θ fixed; dashed: the point, dotted: the floor)")
            ax.set_ylabel("energy")
            ax.set_title("energy along γ through the point", fontsize=9, y=1.0)
        # Fixed margins, title heights (y=1.0) and axis-label positions: tight_layout and matplotlib's automatic
        # placement measure every tick label's extent again.
        self.fig.subplots_adjust(left=0.05, right=0.98, bottom=0.27, top=0.86, wspace=0.3)
        for ax in self.axes:
            ax.xaxis.set_label_coords(0.5, -0.11)
            ax.yaxis.set_label_coords(-0.13, 0.5)
        self._artists: list = []  # the current report's data artists, removed by the next `draw`
        self._legends = False
        self._image = self._colorbar = None

    def _keep(self, *artists):
        self._artists.extend(artists)

    def draw(self, data: FigureData, dpi: int = 90) -> bytes:
        """The PNG of one report."""
        from matplotlib.colors import TwoSlopeNorm

        for artist in self._artists:
            artist.remove()
        self._artists = []
        barrier = data.barrier
        h = barrier["height"]

        ax = self.axes[0]
        self._keep(*ax.plot(barrier["t"], barrier["rel"], color="tab:red", lw=1.5),
                   ax.axhline(0.0, color="0.6", lw=0.8, ls="--"),
                   ax.axvline(barrier["t_peak"], color="0.6", lw=0.8, ls=":"))
        ax.relim()
        ax.autoscale(True)  # the previous report's limits go
        if h is not None and h > 0 and np.isfinite(barrier["rel"]).any():
            lo = np.nanmin(barrier["rel"])
            ax.set_ylim(max(lo, -1.5 * h), 1.5 * h)
        if barrier["t_cross"] is not None:  # the barrier and where the energy falls below the bad point's, no more
            ax.set_xlim(0.0, min(float(barrier["t"][-1]), 2.0 * barrier["t_cross"]))
        height = "none found" if h is None or h <= 0 else f"{h:.3g}"
        ax.set_title(f"barrier height {height} (peak at t = {barrier['t_peak']:.2g})", fontsize=9, y=1.0)

        ax = self.axes[1]
        scales = data.scales
        x = np.arange(self.kappa)
        floor = max(float(np.nanmax(scales)), 1e-300) * 1e-8
        for row, off, color, label in ((0, -0.2, "tab:red", "bad point"), (1, 0.2, "tab:blue", "optimal point")):
            # one LineCollection per point, not κ Rectangle patches
            self._keep(ax.vlines(x + off, floor, np.maximum(scales[row], floor), colors=color,
                                 linewidth=min(3.2, 150.0 / self.kappa), label=label))  # ~0.4 of a column's width
        top = float(np.nanmax(scales)) * 8
        self._keep(*ax.plot(data.bad_support, np.full(len(data.bad_support), top), "v", color="tab:red", ms=6,
                            label="bad support"),
                   *ax.plot(data.opt_support, np.full(len(data.opt_support), top * 6), "o", color="tab:blue", ms=5,
                            label="optimal support"))
        ax.set_ylim(floor, top * 30)
        ax.set_title(f"{len(data.bad_support)} active at the bad point, {len(data.opt_support)} at the optimum",
                     fontsize=9, y=1.0)

        ax = self.axes[2]
        plane = data.plane
        rel = plane["E"] - plane["E"][0, 0]
        scale = h if h is not None and h > 0 else max(float(np.nanmax(np.abs(rel))), 1e-12) * 1e-3
        z = np.sign(rel) * np.log10(1.0 + np.abs(rel) / scale)
        u = np.sqrt(plane["s"])
        drawable = np.isfinite(z).sum() >= 4 and np.nanmax(z) > np.nanmin(z)
        if drawable:
            lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
            norm = TwoSlopeNorm(0.0, min(lo, -1e-9), max(hi, 1e-9))  # white at E = E(bad): red above, blue below
            zm = np.ma.masked_invalid(z)
            if self._image is None:
                self._image = ax.imshow(zm, origin="lower", extent=(0.0, 1.0, 0.0, 1.0), cmap="RdBu_r", norm=norm,
                                        aspect="auto", interpolation="bilinear")
                self._colorbar = self.fig.colorbar(self._image, ax=ax)
                self._colorbar.set_label("sign · log10(1 + |E − E(bad)| / barrier height)", fontsize=7)
            else:
                self._image.set_data(zm)
                self._image.set_norm(norm)
                self._colorbar.update_normal(self._image)
            self._keep(ax.contour(u, u, zm, levels=[0.0], colors="k", linewidths=0.8))
        if self._image is not None:
            self._image.set_visible(drawable)
            self._colorbar.ax.set_visible(drawable)
        marks = (([0], [0], "v", "tab:red", "bad point"), ([1], [0], "o", "tab:blue", "optimal point"),
                 ([0], [1], "s", "0.3", "max(bad, optimal)"),
                 ([np.sqrt(max(barrier["t_peak"], 0.0))], [0], "x", "k", "barrier peak"))
        for xs, ys, marker, color, label in marks:
            self._keep(*ax.plot(xs, ys, marker, color=color, ms=8, label=label, clip_on=False, zorder=5))
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.0)

        if not self._legends:  # the legends copy their handles' styles, which every report shares
            for ax in self.axes[1:3]:
                ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=4, frameon=False)
            self._legends = True

        gp = data.gamma_profile
        if self.with_gamma and gp:  # learned γ: the energy along γ through the point, θ fixed
            ax = self.axes[3]
            self._keep(*ax.plot(gp["gamma"], [np.nan if e is None else e for e in gp["energy"]],
                                color="tab:purple"),
                       ax.axvline(gp["point_gamma"], color="tab:red", lw=0.8, ls="--"))
            if data.gamma_floor:
                self._keep(ax.axvline(data.gamma_floor, color="0.5", lw=0.8, ls=":"))
            ax.relim()
            ax.autoscale(True)

        self.fig.suptitle(data.title, fontsize=10)
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()
