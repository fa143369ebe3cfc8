package sim

import (
	"fmt"
	"os"
	"path/filepath"
)

// ssthreshUnset is the "arbitrarily high" initial slow-start threshold
// (RFC 5681 section 3.1) as the tcp package sets it: not worth drawing.
const ssthreshUnset = 1 << 29

// CongestionPlot draws cwnd and ssthresh over time.
func (r *Result) CongestionPlot() *Plot {
	var cwnd, ssthresh Series
	cwnd.Name, cwnd.Step = "cwnd", true
	ssthresh.Name, ssthresh.Step = "ssthresh", true
	for _, s := range r.Congestion {
		t := s.Time.Seconds()
		cwnd.Points = append(cwnd.Points, Point{t, float64(s.CongestionWindow)})
		if s.SlowStartThresh < ssthreshUnset {
			ssthresh.Points = append(ssthresh.Points, Point{t, float64(s.SlowStartThresh)})
		}
	}
	return &Plot{Title: "Congestion window - " + r.title(), XLabel: "time (s)", YLabel: "bytes",
		Series: []Series{cwnd, ssthresh}}
}

// RTTPlot draws the smoothed RTT and the retransmission timeout over time
// (RFC 6298).
func (r *Result) RTTPlot() *Plot {
	var srtt, rto Series
	srtt.Name, srtt.Step = "SRTT", true
	rto.Name, rto.Step = "RTO", true
	for _, s := range r.Congestion {
		t := s.Time.Seconds()
		// Before the first RTT sample the RTO is the initial 1 s (RFC 6298
		// section 2.1), which would squash the scale: start both lines at
		// the first sample.
		if s.SRTT > 0 {
			srtt.Points = append(srtt.Points, Point{t, float64(s.SRTT.Microseconds()) / 1000})
			rto.Points = append(rto.Points, Point{t, float64(s.RTO.Microseconds()) / 1000})
		}
	}
	return &Plot{Title: "Round-trip time - " + r.title(), XLabel: "time (s)", YLabel: "milliseconds",
		Series: []Series{srtt, rto}}
}

// SequencePlot draws the sequence number of each data segment sent
// (retransmissions apart) and the acknowledgment number received, over
// time: the classic time-sequence graph.
func (r *Result) SequencePlot() *Plot {
	sent := Series{Name: "data sent", Dots: true, Color: "#1f77b4"}
	retx := Series{Name: "retransmitted", Dots: true, DotSize: 6, Color: "#d62728"}
	acks := Series{Name: "ACK received", Step: true, Color: "#2ca02c"}
	for _, s := range r.Sent {
		p := Point{s.Time.Seconds(), float64(s.Seq)}
		if s.Retransmission {
			retx.Points = append(retx.Points, p)
		} else {
			sent.Points = append(sent.Points, p)
		}
	}
	for _, a := range r.Acks {
		acks.Points = append(acks.Points, Point{a.Time.Seconds(), float64(a.Seq)})
	}
	return &Plot{Title: "Time-sequence graph - " + r.title(), XLabel: "time (s)", YLabel: "relative sequence number",
		Series: []Series{sent, retx, acks}}
}

func (r *Result) title() string {
	c := r.Config
	rate := "no rate limit"
	if c.Rate > 0 {
		rate = FormatRate(float64(c.Rate))
	}
	return fmt.Sprintf("%s, %s, loss %g, delay %v, %s", r.CongestionControl, FormatSize(r.Bytes), c.Loss, c.Delay, rate)
}

// WritePlots writes the three plots as SVG files into dir, named
// prefix-cwnd.svg, prefix-rtt.svg and prefix-seq.svg, and returns their
// paths.
func (r *Result) WritePlots(dir, prefix string) ([]string, error) {
	var paths []string
	for _, p := range []struct {
		name string
		plot *Plot
	}{{"cwnd", r.CongestionPlot()}, {"rtt", r.RTTPlot()}, {"seq", r.SequencePlot()}} {
		path := filepath.Join(dir, prefix+"-"+p.name+".svg")
		f, err := os.Create(path)
		if err != nil {
			return paths, err
		}
		err = p.plot.WriteSVG(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
