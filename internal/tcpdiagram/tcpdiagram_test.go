package tcpdiagram

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tundra-net/tundra/tcp"
)

// TestGeneratedFilesAreCurrent fails when docs/tcp-states.* no longer
// match tcp.Transitions (or this package's drawing): run
// `go generate ./internal/tcpdiagram`.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	for name, want := range map[string][]byte{
		DOTFile: DOT(tcp.Transitions),
		SVGFile: SVG(tcp.Transitions),
	} {
		got, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
		if err != nil {
			t.Fatalf("%v (run: go generate ./internal/tcpdiagram)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("docs/%s is stale: run go generate ./internal/tcpdiagram", name)
		}
	}
}

// TestEveryTransitionIsDrawn checks that each row of the table appears:
// as an edge in the DOT file, and on the SVG as an arrow label or a line
// of the off-figure table.
func TestEveryTransitionIsDrawn(t *testing.T) {
	dot := string(DOT(tcp.Transitions))
	svg := string(SVG(tcp.Transitions))
	drawn := 0
	for _, a := range arrows(tcp.Transitions) {
		drawn += len(a.events)
	}
	off := 0
	for _, tr := range tcp.Transitions {
		edge := `"` + tr.From.String() + `" -> "` + tr.To.String() + `" [label="` + tr.Event.String() + `"`
		if !strings.Contains(dot, edge) {
			t.Errorf("DOT lacks %s", edge)
		}
		if !strings.Contains(svg, escape(tr.Event.String())) {
			t.Errorf("SVG lacks the event %v", tr.Event)
		}
		if offFigure(tr) {
			off++
		}
	}
	if drawn+off != len(tcp.Transitions) {
		t.Errorf("%d arrows' events and %d table entries for %d transitions", drawn, off, len(tcp.Transitions))
	}
	for n := range position {
		if !strings.Contains(svg, ">"+n.state.String()+"<") {
			t.Errorf("SVG lacks the box %v", n.state)
		}
	}
	// Every state that appears in the table has a place on the figure.
	for _, tr := range tcp.Transitions {
		if _, ok := position[node{tr.From, false}]; !ok {
			t.Errorf("no position for %v", tr.From)
		}
	}
}

func TestWrap(t *testing.T) {
	in := "rcv RST, ABORT, retransmission timeout, keepalive timeout"
	got := wrap(in, 20)
	want := []string{"rcv RST, ABORT,", "retransmission timeout,", "keepalive timeout"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("wrap(%q, 20) = %q, want %q", in, got, want)
	}
}
