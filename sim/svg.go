package sim

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Point is one (x, y) sample of a Series.
type Point struct{ X, Y float64 }

// Series is one line (or set of dots) on a Plot.
type Series struct {
	Name  string
	Color string // any SVG color: "#1f77b4"
	// Dots draws each point as a small square mark, DotSize pixels wide
	// (default 2), instead of joining them.
	Dots    bool
	DotSize float64
	// Step joins points with horizontal-then-vertical steps, for values
	// that hold until they change (cwnd, ssthresh).
	Step   bool
	Points []Point
}

// Plot is a simple 2-D line plot written as a self-contained SVG file: axes
// with round-numbered ticks, a title, axis labels and a legend. It needs no
// plotting library: this is all the simulator draws.
type Plot struct {
	Title, XLabel, YLabel string
	Width, Height         int // pixels; default 800 x 400
	Series                []Series
}

// Layout of the plot area inside the picture.
const (
	marginLeft   = 80
	marginRight  = 20
	marginTop    = 40
	marginBottom = 50
)

// WriteSVG writes the plot as an SVG document.
func (p *Plot) WriteSVG(w io.Writer) error {
	width, height := p.Width, p.Height
	if width == 0 {
		width = 800
	}
	if height == 0 {
		height = 400
	}
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), 0.0, math.Inf(-1)
	for _, s := range p.Series {
		for _, pt := range s.Points {
			xmin, xmax = math.Min(xmin, pt.X), math.Max(xmax, pt.X)
			ymin, ymax = math.Min(ymin, pt.Y), math.Max(ymax, pt.Y)
		}
	}
	if math.IsInf(xmin, 1) { // no points at all
		xmin, xmax, ymax = 0, 1, 1
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	if ymax <= ymin {
		ymax = ymin + 1
	}
	xticks, xmin, xmax := niceTicks(xmin, xmax)
	// A little headroom, so that a line at the largest value (an RTO
	// at its floor, say) does not run along the frame.
	yticks, ymin, ymax := niceTicks(ymin, ymax*1.04)
	plotW := float64(width - marginLeft - marginRight)
	plotH := float64(height - marginTop - marginBottom)
	sx := func(x float64) float64 { return marginLeft + (x-xmin)/(xmax-xmin)*plotW }
	sy := func(y float64) float64 { return marginTop + plotH - (y-ymin)/(ymax-ymin)*plotH }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" text-anchor="middle" font-size="15">%s</text>`+"\n", width/2, escape(p.Title))
	// Grid and ticks.
	for _, t := range xticks {
		x := sx(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, marginTop, x, marginTop+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, marginTop+plotH+16, tickLabel(t))
	}
	for _, t := range yticks {
		y := sy(t)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", marginLeft, y, marginLeft+plotW, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", marginLeft-6, y+4, tickLabel(t))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="black"/>`+"\n", marginLeft, marginTop, plotW, plotH)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", marginLeft+plotW/2, height-10, escape(p.XLabel))
	fmt.Fprintf(&b, `<text x="16" y="%.1f" text-anchor="middle" transform="rotate(-90 16 %.1f)">%s</text>`+"\n",
		marginTop+plotH/2, marginTop+plotH/2, escape(p.YLabel))
	// Data.
	for i, s := range p.Series {
		color := s.Color
		if color == "" {
			color = palette[i%len(palette)]
		}
		if s.Dots {
			size := s.DotSize
			if size <= 0 {
				size = 2
			}
			fmt.Fprintf(&b, `<g fill="%s">`+"\n", color)
			for _, pt := range s.Points {
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%g" height="%g"/>`+"\n", sx(pt.X)-size/2, sy(pt.Y)-size/2, size, size)
			}
			b.WriteString("</g>\n")
		} else if len(s.Points) > 0 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="`, color)
			for j, pt := range s.Points {
				if s.Step && j > 0 {
					fmt.Fprintf(&b, "%.1f,%.1f ", sx(pt.X), sy(s.Points[j-1].Y))
				}
				fmt.Fprintf(&b, "%.1f,%.1f ", sx(pt.X), sy(pt.Y))
			}
			b.WriteString(`"/>` + "\n")
		}
		// Legend entry.
		ly := marginTop + 14 + 16*i
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="3" fill="%s"/>`, marginLeft+10, ly-4, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", marginLeft+28, ly, escape(s.Name))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"}

// niceTicks picks about five round tick values (1, 2 or 5 times a power of
// ten apart) covering [lo, hi], and returns them with the widened range.
func niceTicks(lo, hi float64) (ticks []float64, min, max float64) {
	span := hi - lo
	raw := span / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			step = m * mag
			break
		}
	}
	min = math.Floor(lo/step) * step
	max = math.Ceil(hi/step) * step
	for t := min; t <= max+step/2; t += step {
		ticks = append(ticks, t)
	}
	return ticks, min, max
}

// tickLabel prints a tick value briefly: 1500, 2.5, 1.2M, 40k.
func tickLabel(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return trimZeros(fmt.Sprintf("%.2f", v/1e6)) + "M"
	case a >= 1e4:
		return trimZeros(fmt.Sprintf("%.1f", v/1e3)) + "k"
	default:
		return trimZeros(fmt.Sprintf("%.3f", v))
	}
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
