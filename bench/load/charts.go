package main

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// A chart is one workload: req/s beside the server's CPU time per request,
// each against the size of the directory (log scale), from the summary's
// medians. Every extdir series (store and build) is a line through its
// sizes with the min–max of the runs as error bars; the servers whose size
// is fixed (bare, the peer) are horizontal lines across the whole range.

// chartSeries is one line of a chart.
type chartSeries struct {
	label  string
	points []summary // by size; one for a reference line
	ref    bool
}

// seriesLabel names an extdir series by store and build.
func seriesLabel(s summary) string {
	label := "extdir " + map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL"}[s.Store]
	if s.Build != "" {
		label += " @" + s.Build
	}
	return label
}

// referenceLabel says what a constant-size server is.
func referenceLabel(s summary) string {
	switch {
	case s.Store == "bare" && s.Target == "bare":
		return "bare (the machine's limit, no auth)"
	case s.Store == "bare":
		return s.Target + " (the limit, RS256 verified)"
	case s.Store == "peer" && s.Profiles > 0:
		return fmt.Sprintf("%s (%s users)", s.Target, thousands(float64(s.Profiles)))
	}
	return s.Target
}

// chartSeriesOf groups one workload's summaries into lines: extdir's series
// first (SQLite, PostgreSQL, then each @build), then the references.
func chartSeriesOf(sums []summary, workload string) []chartSeries {
	var lines, refs []chartSeries
	index := map[string]int{}
	for _, s := range sums {
		if s.Workload != workload {
			continue
		}
		if s.Store == "sqlite" || s.Store == "postgres" {
			label := seriesLabel(s)
			i, ok := index[label]
			if !ok {
				i = len(lines)
				index[label] = i
				lines = append(lines, chartSeries{label: label})
			}
			lines[i].points = append(lines[i].points, s)
			continue
		}
		refs = append(refs, chartSeries{label: referenceLabel(s), points: []summary{s}, ref: true})
	}
	rank := func(c chartSeries) int {
		p := c.points[0]
		r := 0
		if p.Store == "postgres" {
			r = 1
		}
		if p.Build != "" {
			r += 2
		}
		return r
	}
	slices.SortStableFunc(lines, func(a, b chartSeries) int { return cmp.Compare(rank(a), rank(b)) })
	for _, l := range lines {
		slices.SortFunc(l.points, func(a, b summary) int { return cmp.Compare(a.Profiles, b.Profiles) })
	}
	return append(lines, refs...)
}

// drawCharts writes dir/<workload>.svg for every workload of the report
// that extdir was measured on, and returns the files' paths.
func drawCharts(dir string, rep *report) ([]string, error) {
	var workloads []string
	for _, s := range rep.Summary {
		if (s.Store == "sqlite" || s.Store == "postgres") && !slices.Contains(workloads, s.Workload) {
			workloads = append(workloads, s.Workload)
		}
	}
	if len(workloads) == 0 {
		return nil, errors.New("charts: no extdir figures with a store and a size in the report (a -json written before they were recorded?)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, w := range workloads {
		file := filepath.Join(dir, w+".svg")
		if err := drawChart(file, w, chartSeriesOf(rep.Summary, w)); err != nil {
			return nil, fmt.Errorf("chart %s: %w", w, err)
		}
		files = append(files, file)
	}
	return files, nil
}

// errPoints are points with their error bars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

func drawChart(file, workload string, series []chartSeries) error {
	// The x range: every size measured, a little beyond on either side.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range series {
		if c.ref {
			continue
		}
		for _, p := range c.points {
			lo, hi = min(lo, float64(p.Profiles)), max(hi, float64(p.Profiles))
		}
	}
	if lo < 1 {
		return errors.New("no extdir sizes to chart")
	}
	lo, hi = lo/1.6, hi*1.6

	panels := []struct {
		title, y       string
		value, low, up func(summary) float64
	}{
		{workload + ": req/s (median, bars min–max of the runs)", "req/s",
			func(s summary) float64 { return s.RPS }, func(s summary) float64 { return s.RPSMin }, func(s summary) float64 { return s.RPSMax }},
		{workload + ": server CPU per request (median, bars min–max)", "server CPU µs/req",
			func(s summary) float64 { return s.ServerCPUUs }, func(s summary) float64 { return s.ServerCPUMin }, func(s summary) float64 { return s.ServerCPUMax }},
	}
	row := make([]*plot.Plot, len(panels))
	for i, panel := range panels {
		p := plot.New()
		p.Title.Text = panel.title
		p.X.Label.Text = "profiles in the tenant under test (log scale)"
		p.Y.Label.Text = panel.y
		p.Y.Tick.Marker = groupedTicks{}
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = sizeTicks(lo, hi)
		p.Legend.Top = true
		p.Legend.TextStyle.Font.Size = vg.Points(9)
		top := 0.0
		for j, c := range series {
			color := plotutil.Color(j)
			if c.ref {
				v := panel.value(c.points[0])
				l, err := plotter.NewLine(plotter.XYs{{X: lo, Y: v}, {X: hi, Y: v}})
				if err != nil {
					return err
				}
				l.Color = color
				l.Dashes = plotutil.Dashes(1 + j%4)
				l.Width = vg.Points(1.5)
				p.Add(l)
				p.Legend.Add(c.label, l)
				top = max(top, v)
				continue
			}
			pts := errPoints{}
			bars := false
			for _, s := range c.points {
				pts.XYs = append(pts.XYs, plotter.XY{X: float64(s.Profiles), Y: panel.value(s)})
				low, up := panel.low(s), panel.up(s)
				if s.Runs < 2 || low == 0 && up == 0 {
					low, up = panel.value(s), panel.value(s)
				} else {
					bars = true
				}
				pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{panel.value(s) - low, up - panel.value(s)})
				top = max(top, up, panel.value(s))
			}
			l, sc, err := plotter.NewLinePoints(pts.XYs)
			if err != nil {
				return err
			}
			l.Color, sc.Color = color, color
			l.Width = vg.Points(2)
			sc.Shape = plotutil.Shape(j)
			sc.Radius = vg.Points(3.5)
			p.Add(l, sc)
			if bars {
				eb, err := plotter.NewYErrorBars(pts)
				if err != nil {
					return err
				}
				eb.Color = color
				p.Add(eb)
			}
			p.Legend.Add(c.label, l, sc)
		}
		p.X.Min, p.X.Max = lo, hi
		// From zero, with room above the highest figure for the legend.
		p.Y.Min, p.Y.Max = 0, max(top, 1)*(1.15+0.09*float64(len(series)))
		p.Add(plotter.NewGrid())
		row[i] = p
	}

	const width, height = 30 * vg.Centimeter, 12 * vg.Centimeter
	// The format by the file's name: SVG for -charts; PNG (say) to look
	// at one where nothing renders SVG.
	img, err := draw.NewFormattedCanvas(width, height, strings.TrimPrefix(filepath.Ext(file), "."))
	if err != nil {
		return err
	}
	tiles := draw.Tiles{Rows: 1, Cols: len(row), PadX: vg.Centimeter, PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	canvases := plot.Align([][]*plot.Plot{row}, tiles, draw.New(img))
	for i, p := range row {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := img.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// groupedTicks are plot's default ticks labelled as the report writes
// rates: 25,000 rather than 25000.00.
type groupedTicks struct{}

func (groupedTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label != "" {
			if t.Value == math.Trunc(t.Value) {
				ticks[i].Label = thousands(t.Value)
			} else {
				ticks[i].Label = strconv.FormatFloat(t.Value, 'g', 4, 64)
			}
		}
	}
	return ticks
}

// sizeTicks labels the powers of ten within [lo, hi] (1k, 10k, 100k, 1M),
// and the ends of the range when no power of ten falls within it.
func sizeTicks(lo, hi float64) plot.ConstantTicks {
	var ticks plot.ConstantTicks
	for e := 0; e <= 12; e++ {
		v := math.Pow(10, float64(e))
		if v >= lo && v <= hi {
			ticks = append(ticks, plot.Tick{Value: v, Label: sizeLabel(v)})
		}
	}
	if len(ticks) == 0 {
		ticks = plot.ConstantTicks{{Value: lo, Label: sizeLabel(lo)}, {Value: hi, Label: sizeLabel(hi)}}
	}
	return ticks
}

// sizeLabel writes a size short: 1k, 10k, 1M, 2.5M.
func sizeLabel(v float64) string {
	for _, u := range []struct {
		div  float64
		unit string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= u.div {
			return strconv.FormatFloat(v/u.div, 'g', 3, 64) + u.unit
		}
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
