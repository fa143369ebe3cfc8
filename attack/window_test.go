//go:build linux

package attack

import (
	"fmt"
	"slices"
	"sync"

	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/tcp"
)

// windowWatch wraps a server stack's link and checks RFC 9293 3.8.6 on
// every TCP flow through it: the right edge of the window the server
// offers (SEG.ACK + SEG.WND, scaled) never moves left ("the receiver
// SHOULD NOT shrink the window"), and the client never sends data past the
// furthest right edge the server offered (3.8.6.2.1: the sender stays in
// the window; a one-byte zero-window probe is allowed).
type windowWatch struct {
	link.Endpoint
	mu sync.Mutex
	// flows is keyed by both ports: our stack reuses an ephemeral port for
	// connections to different server ports at once (a four-tuple, not a
	// port, names a connection).
	flows      map[[2]uint16]*flowWindow
	violations []string
}

// flowWindow is what windowWatch knows of one flow.
type flowWindow struct {
	shift    int     // the server's receive window shift, from its SYN+ACK
	right    tcp.Seq // the furthest right edge the server offered
	haveEdge bool
}

func newWindowWatch(ep link.Endpoint) *windowWatch {
	return &windowWatch{Endpoint: ep, flows: map[[2]uint16]*flowWindow{}}
}

func (w *windowWatch) violation(format string, args ...any) {
	v := fmt.Sprintf(format, args...)
	if len(w.violations) < 10 && !slices.Contains(w.violations, v) {
		w.violations = append(w.violations, v)
	}
}

// segment parses a packet's TCP segment.
func segmentOf(pkt []byte) (tcp.Segment, bool) {
	ip, err := ipv4.ParseHeader(pkt)
	if err != nil || ip.Protocol() != ipv4.ProtocolTCP || ip.IsFragment() {
		return tcp.Segment{}, false
	}
	seg, err := tcp.ParseSegment(ip.Payload())
	return seg, err == nil
}

// WritePackets sees the server's segments: its offered windows.
func (w *windowWatch) WritePackets(pkts []link.Packet) (int, error) {
	w.mu.Lock()
	for i := range pkts {
		seg, ok := segmentOf(pkts[i].Data)
		if !ok {
			continue
		}
		port := seg.DstPort
		key := [2]uint16{seg.DstPort, seg.SrcPort} // client port, server port
		switch {
		case seg.Flags&tcp.FlagRST != 0:
			delete(w.flows, key)
		case seg.Flags&tcp.FlagSYN != 0:
			f := &flowWindow{}
			if seg.Options.HasWindowScale {
				f.shift = int(min(seg.Options.WindowScale, tcp.MaxWindowScale))
			}
			w.flows[key] = f
		case seg.Flags&tcp.FlagACK != 0:
			f := w.flows[key]
			if f == nil {
				continue
			}
			right := seg.Ack.Add(uint32(seg.Window) << f.shift)
			// RFC 7323 2.4: with scaling, rounding the window down to a
			// multiple of 2^shift may pull the edge back by less than that.
			if f.haveEdge && right.Add(1<<f.shift).LessThanEq(f.right) {
				w.violation("server shrank its window on port %d: right edge %d bytes behind the furthest offered (ACK %d, window %d)",
					port, f.right.Sub(right), uint32(seg.Ack), uint32(seg.Window)<<f.shift)
			}
			if !f.haveEdge || right.GreaterThan(f.right) {
				f.right, f.haveEdge = right, true
			}
		}
	}
	w.mu.Unlock()
	return w.Endpoint.WritePackets(pkts)
}

// ReadPackets sees the client's segments: data must stay in the window.
func (w *windowWatch) ReadPackets(pkts []link.Packet) (int, error) {
	n, err := w.Endpoint.ReadPackets(pkts)
	w.mu.Lock()
	for i := range pkts[:n] {
		seg, ok := segmentOf(pkts[i].Data)
		if !ok || len(seg.Payload) == 0 || seg.Flags&tcp.FlagSYN != 0 {
			continue
		}
		f := w.flows[[2]uint16{seg.SrcPort, seg.DstPort}]
		if f == nil || !f.haveEdge {
			continue
		}
		end := seg.Seq.Add(uint32(len(seg.Payload)))
		if end.GreaterThan(f.right.Add(1)) {
			w.violation("client sent past the window on port %d: segment ends %d bytes past the furthest right edge (%d bytes at seq %d)",
				seg.SrcPort, end.Sub(f.right), len(seg.Payload), uint32(seg.Seq))
		}
	}
	w.mu.Unlock()
	return n, err
}

// report returns the violations seen.
func (w *windowWatch) report() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.violations...)
}
