"""The report figure, drawn from numbers alone (no objective, no problem): `ReportFigure`.

One run writes a report per distinct bad minimum (23 for ae-log on a d = 20 problem), all with the same panels,
axes and labels. Building the figure, its axes, ticks, legends and colour bar anew for each took about a third of a
report's time, so a `ReportFigure` is built once per run and each report only swaps its data artists, limits and
texts before the figure is drawn again.

What the figure compares: the reported point ("this point") with a *reference point* — a minimum of the variant on
an optimal support when one is lower than this point, else the sparsest solution's own least-squares fit (for a
convex variant such as ae-l21 the reported point is the variant's only minimum, so no other minimum exists to
compare with; the figure says there is no barrier). Energy differences at rounding level (`rounding` in the
barrier dict) are drawn as zero, never as a barrier.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

# √-spaced tick positions of the energy-plane panel (the grid is uniform in √s, √t)
PLANE_TICKS = np.array([0.0, 0.01, 0.1, 0.3, 0.6, 1.0])
#: Font sizes (points) at the figure's size: legible when the PNG is shown at its own width (~1200 px).
FONT, SMALL, TITLE = 11, 10, 12
#: Colours and markers of the two points, the same in every panel.
POINT_STYLE = {"color": "tab:red", "marker": "v"}
REF_STYLE = {"color": "tab:blue", "marker": "o"}


@dataclass(frozen=True)
class FigureData:
    """What one report's figure shows.

    segment: the energy along the whole segment from this point (t = 0) to the reference point (t = 1), dict
    (t, rel) with rel = E(t) − E(this point), rounding-level differences already zero; barrier:
    `barrier_on_segment`'s dict (t, rel of its zoom window, height, t_peak, t_cross, status, rounding); scales
    (2, κ): latent scales of this point and of the reference point; plane: `energy_plane`'s dict (s, t, E);
    ref_label: what the reference point is ("optimal minimum" or "sparsest solution (least-squares fit)");
    gamma_profile: the learned-γ profile dict or None; gamma_floor: the floor (learned γ) or None; title: the
    figure's title; facts: one line under it (problem size and seed, k*, proof status); notes: lines for the text
    panel shown when γ is fixed (energies, barrier, claim)."""

    segment: dict
    barrier: dict
    scales: np.ndarray
    plane: dict
    bad_support: list[int]
    opt_support: list[int]
    ref_label: str
    gamma_profile: dict | None
    gamma_floor: float | None
    title: str
    facts: str
    notes: tuple[str, ...] = ()


def _symlog_ticks(linthresh: float, bottom: float, top: float, most: int = 4) -> list[float]:
    """Ticks of a symmetric-log energy axis: 0 and ±10^k outside the linear band (|v| ≥ linthresh), at most `most`
    per side (so no labels pile up around zero)."""
    out = [0.0]
    for sign, end in ((1.0, top), (-1.0, -bottom)):
        if end <= linthresh:
            continue
        lo, hi = int(np.ceil(np.log10(linthresh))), int(np.floor(np.log10(end)))
        ks = list(range(lo, hi + 1))
        step = max(1, int(np.ceil(len(ks) / most)))
        out += [sign * 10.0 ** k for k in ks[::-1][::step]]
    return sorted(out)


def barrier_text(barrier: dict) -> str:
    """One line saying whether the segment shows a barrier (the line panel's title and the Markdown's wording)."""
    status = barrier.get("status")
    if status == "barrier" and barrier.get("height") is not None:
        return (f"barrier {barrier['height']:.3g} at t = {barrier['t_peak']:.2g}; "
                f"lower than this point from t = {barrier['t_cross']:.2g}")
    if status == "falls":
        return "no barrier: the energy falls from this point toward the reference"
    return "no barrier: the energy never falls below this point's on the segment"


class ReportFigure:
    """Four panels in a 2 × 2 grid, built once; `draw` puts one report's data in and returns the PNG.

    (1) E(t) − E(this point) on the whole segment to the reference point (symmetric log scale, both ends marked),
    with an inset of the barrier when it sits in the first third; (2) the energy on the plane through this point,
    the reference point and max(this, reference); (3) the latent scales of both points as bars over the κ columns,
    supports marked; (4) with γ learned, the energy along γ through the point, else the report's numbers as text.
    """

    def __init__(self, kappa: int, scale_label: str, with_gamma: bool) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

        self.kappa, self.with_gamma = kappa, with_gamma
        # a bare Figure (not pyplot's): nothing global to close, freed with this object
        self.fig = Figure(figsize=(13.5, 10.0))
        FigureCanvasAgg(self.fig)
        axes = self.fig.subplots(2, 2)
        self.line, self.plane, self.bars, self.last = axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]
        self.axes = [self.line, self.plane, self.bars, self.last]
        for ax in self.axes:
            ax.tick_params(labelsize=SMALL)

        ax = self.line
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylabel("E(t) − E(this point)", fontsize=FONT)
        self.inset = ax.inset_axes([0.56, 0.56, 0.41, 0.38])
        self.inset.tick_params(labelsize=8)
        self.inset.set_title("zoom: the barrier", fontsize=9, pad=2)
        self.inset.set_visible(False)

        ax = self.plane
        for axis in ("x", "y"):  # √ axes: the grid is dense near this point, where a barrier would be
            getattr(ax, f"set_{axis}ticks")(np.sqrt(PLANE_TICKS), [f"{t:g}" for t in PLANE_TICKS])
            getattr(ax, f"set_{axis}lim")(0.0, 1.0)
        ax.set_ylabel("t: toward max(this point, reference) (√ scale)", fontsize=FONT)
        ax.set_title("energy on the plane through the three points\n(red: higher than this point, blue: lower; "
                     "black line: equal)", fontsize=FONT)

        ax = self.bars
        x = np.arange(kappa)
        ax.set_yscale("log")
        # at most 6 labelled decades, as plain "1e-5" text, and no minor ticks (about 80 over ten decades)
        ax.yaxis.set_major_locator(LogLocator(numticks=6))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"1e{np.log10(v):.0f}"))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xticks(x if kappa <= 20 else x[:: 5 if kappa <= 100 else max(5, kappa // 20)])
        ax.set_xlim(-0.8, kappa - 0.2)
        ax.set_xlabel(f"latent column j (κ = {kappa} columns)", fontsize=FONT)
        ax.set_ylabel(scale_label, fontsize=FONT)

        ax = self.last
        if with_gamma:
            ax.set_xscale("log")
            ax.set_xlabel("γ (θ fixed)", fontsize=FONT)
            ax.set_ylabel("energy", fontsize=FONT)
            ax.set_title("energy along γ through this point", fontsize=FONT)
            ax.ticklabel_format(axis="y", useOffset=False)  # an offset label ("1e3 + ...") would sit on the title
        else:
            ax.set_axis_off()
        self._notes = ax.text(0.0, 1.0, "", transform=ax.transAxes, va="top", ha="left", fontsize=FONT,
                              visible=not with_gamma)  # wrapped by the caller: matplotlib's wrap re-measures

        # legends are built once from style-only handles (their data change per report, their meaning does not)
        this = Line2D([], [], ls="", ms=9, label="this point", **POINT_STYLE)
        self._ref_handle = Line2D([], [], ls="", ms=8, label="reference", **REF_STYLE)
        self._line_legend = self.line.legend(handles=[this, self._ref_handle], fontsize=SMALL, loc="best")
        self._bar_legend = self.bars.legend(
            handles=[Line2D([], [], color="tab:red", lw=4, label="this point"),
                     Line2D([], [], color="tab:blue", lw=4, label="reference"),
                     Line2D([], [], ls="", ms=7, label="its support", **POINT_STYLE),
                     Line2D([], [], ls="", ms=7, label="reference support", **REF_STYLE)],
            fontsize=SMALL, loc="upper left", ncol=2, framealpha=0.9)
        self.plane.legend(handles=[Line2D([], [], ls="", ms=9, label="this point", **POINT_STYLE),
                                   Line2D([], [], ls="", ms=8, label="reference", **REF_STYLE),
                                   Line2D([], [], ls="", ms=8, marker="s", color="0.3", label="max(both)")],
                          fontsize=SMALL, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
        if with_gamma:
            self.last.legend(handles=[Line2D([], [], color="tab:purple", label="E(γ)"),
                                      Line2D([], [], color="tab:red", ls="--", label="this point's γ"),
                                      Line2D([], [], color="0.5", ls=":", label="γ floor")],
                             fontsize=SMALL, loc="best")
        # Fixed margins and title heights: tight_layout and constrained layout measure every tick label again.
        self.fig.subplots_adjust(left=0.08, right=0.92, bottom=0.06, top=0.86, wspace=0.28, hspace=0.36)
        self._artists: list = []  # the current report's data artists, removed by the next `draw`
        self._image = self._colorbar = None

    def _keep(self, *artists):
        self._artists.extend(artists)

    def texts(self) -> list[str]:
        """Every visible text of the figure (titles, axis labels, legends, notes): what a reader can read on it."""
        from matplotlib.text import Text

        return [t.get_text() for t in self.fig.findobj(Text) if t.get_visible() and t.get_text()]

    def draw(self, data: FigureData, dpi: int = 90) -> bytes:
        """The PNG of one report."""
        from matplotlib.colors import SymLogNorm
        from matplotlib.ticker import FixedLocator, NullLocator

        for artist in self._artists:
            artist.remove()
        self._artists = []
        barrier, seg = data.barrier, data.segment
        h = barrier["height"] if barrier.get("status") == "barrier" else None
        tiny = max(float(barrier.get("rounding") or 0.0), 1e-300)
        self._line_legend.get_texts()[1].set_text(data.ref_label)

        ax = self.line
        t, rel = np.asarray(seg["t"], dtype=float), np.asarray(seg["rel"], dtype=float)
        wt, wrel = np.asarray(barrier["t"], dtype=float), np.asarray(barrier["rel"], dtype=float)
        tt = np.concatenate([t, wt])
        order = np.argsort(tt, kind="stable")
        tt, rr = tt[order], np.concatenate([rel, wrel])[order]
        ok = np.isfinite(rr)
        span = float(np.nanmax(np.abs(rr))) if ok.any() else 0.0
        linthresh = h if h else max(tiny, 1e-3 * span, 1e-300)
        ax.set_yscale("symlog", linthresh=linthresh)
        self._keep(*ax.plot(tt[ok], rr[ok], color="0.15", lw=1.6),
                   ax.axhline(0.0, color="0.6", lw=0.8, ls="--"),
                   *ax.plot([0.0], [0.0], ls="", ms=11, clip_on=False, zorder=5, **POINT_STYLE),
                   *ax.plot([1.0], [rel[-1] if np.isfinite(rel[-1]) else 0.0], ls="", ms=10, clip_on=False,
                            zorder=5, **REF_STYLE))
        top = max(span, linthresh) * 1.6
        bottom = -top if (rr[ok] < 0).any() else -linthresh
        ax.set_ylim(bottom, top)
        ax.yaxis.set_major_locator(FixedLocator(_symlog_ticks(linthresh, bottom, top)))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xlim(-0.02, 1.02)  # the whole segment: both points are always on the panel
        ax.set_xlabel(f"t along the segment (0 = this point, 1 = {data.ref_label})", fontsize=FONT)
        ax.set_title(barrier_text(barrier), fontsize=FONT)
        inset = h is not None and barrier.get("t_cross") is not None and barrier["t_cross"] < 0.35
        self.inset.set_visible(inset)
        self._line_legend.set_loc("lower left" if inset else "best")  # the inset sits at the upper right
        if inset:
            end = min(float(wt[-1]), 2.0 * barrier["t_cross"])
            sel = (wt <= end) & np.isfinite(wrel)
            self._keep(*self.inset.plot(wt[sel], wrel[sel], color="0.15", lw=1.2),
                       self.inset.axhline(0.0, color="0.6", lw=0.6, ls="--"),
                       self.inset.axvline(barrier["t_peak"], color="tab:orange", lw=0.8, ls=":"))
            self.inset.set_xlim(0.0, end)
            self.inset.set_ylim(max(float(np.nanmin(wrel[sel])), -1.5 * h), 1.6 * h)

        ax = self.plane
        plane = data.plane
        prel = plane["E"] - plane["E"][0, 0]
        prel = np.where(np.abs(prel) <= tiny, 0.0, prel)  # rounding level is no structure: drawn as equal
        u = np.sqrt(plane["s"])
        finite = np.isfinite(prel)
        pspan = float(np.nanmax(np.abs(prel))) if finite.any() else 0.0
        drawable = finite.sum() >= 4 and pspan > 0
        if drawable:
            norm = SymLogNorm(linthresh=h if h else max(tiny, 1e-3 * pspan), vmin=-pspan, vmax=pspan, base=10)
            zm = np.ma.masked_invalid(prel)
            if self._image is None:
                self._image = ax.imshow(zm, origin="lower", extent=(0.0, 1.0, 0.0, 1.0), cmap="RdBu_r", norm=norm,
                                        aspect="auto", interpolation="nearest")
                self._colorbar = self.fig.colorbar(self._image, ax=ax, fraction=0.05, pad=0.03)
                self._colorbar.set_label("E − E(this point), symmetric log scale", fontsize=SMALL)
                self._colorbar.ax.tick_params(labelsize=9)
            else:
                self._image.set_data(zm)
                self._image.set_norm(norm)
                self._colorbar.update_normal(self._image)
            lin = norm.linthresh
            ticks = [-pspan, -lin, 0.0, lin, pspan] if lin < 0.2 * pspan else [-pspan, 0.0, pspan]
            self._colorbar.set_ticks(ticks, labels=[f"{v:.2g}" for v in ticks])
            if (prel > 0).any() and (prel < 0).any():
                self._keep(ax.contour(u, u, zm, levels=[0.0], colors="k", linewidths=1.0))
        else:
            self._keep(ax.text(0.5, 0.5, "the energy is constant on this plane\n(to rounding level)",
                               ha="center", va="center", fontsize=FONT, transform=ax.transAxes))
        if self._image is not None:
            self._image.set_visible(drawable)
            self._colorbar.ax.set_visible(drawable)
        for xs, ys, style in (([0], [0], POINT_STYLE), ([1], [0], REF_STYLE),
                              ([0], [1], {"marker": "s", "color": "0.3"})):
            self._keep(*ax.plot(xs, ys, ls="", ms=10, clip_on=False, zorder=5, **style))
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.0)
        ax.set_xlabel(f"s: toward the {data.ref_label} (√ scale)", fontsize=FONT)

        ax = self.bars
        scales = data.scales
        x = np.arange(self.kappa)
        floor = max(float(np.nanmax(scales)), 1e-300) * 1e-8
        for row, off, color in ((0, -0.2, "tab:red"), (1, 0.2, "tab:blue")):
            # one LineCollection per point, not κ Rectangle patches
            self._keep(ax.vlines(x + off, floor, np.maximum(scales[row], floor), colors=color,
                                 linewidth=min(3.2, 150.0 / self.kappa)))  # ~0.4 of a column's width
        top = float(np.nanmax(scales)) * 8
        self._keep(*ax.plot(data.bad_support, np.full(len(data.bad_support), top), ls="", ms=7, **POINT_STYLE),
                   *ax.plot(data.opt_support, np.full(len(data.opt_support), top * 6), ls="", ms=6, **REF_STYLE))
        ax.set_ylim(floor, top * 1e4)  # headroom above the support marks for the legend
        ax.set_title(f"latent scales: {len(data.bad_support)} active at this point, {len(data.opt_support)} "
                     f"in the reference support", fontsize=FONT)

        gp = data.gamma_profile
        if self.with_gamma and gp:  # learned γ: the energy along γ through the point, θ fixed
            ax = self.last
            self._keep(*ax.plot(gp["gamma"], [np.nan if e is None else e for e in gp["energy"]],
                                color="tab:purple"),
                       ax.axvline(gp["point_gamma"], color="tab:red", lw=0.8, ls="--"))
            if data.gamma_floor:
                self._keep(ax.axvline(data.gamma_floor, color="0.5", lw=0.8, ls=":"))
            ax.relim()
            ax.autoscale(True)
        self._notes.set_text("\n".join(data.notes))

        self.fig.suptitle(data.title, fontsize=TITLE + 1, y=0.985)
        self._keep(self.fig.text(0.5, 0.95, data.facts, ha="center", va="top", fontsize=FONT))
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()
