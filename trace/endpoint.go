package trace

import (
	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/tcp"
)

// Endpoint wraps the link a stack writes to, so that the Tracer can read
// the first line of HTTP off the data segments the stack sends (the
// observer is told only their length). Put it between the stack and the
// link: stack.New(tracer.Endpoint(ep), ...). Packets pass through
// unchanged; with nobody subscribed the wrapper only forwards.
func (t *Tracer) Endpoint(inner link.Endpoint) link.Endpoint {
	t.mu.Lock()
	t.tapped = true
	t.mu.Unlock()
	return &tapEndpoint{Endpoint: inner, t: t}
}

// tapEndpoint is the wrapper Endpoint returns.
type tapEndpoint struct {
	link.Endpoint
	t *Tracer
}

// WritePackets completes the held-back sent segment with its summary,
// then writes the packets.
func (e *tapEndpoint) WritePackets(pkts []link.Packet) (int, error) {
	if e.t.wants(SegmentOut) {
		for i := range pkts {
			e.t.payloadSent(pkts[i].Data)
		}
	}
	return e.Endpoint.WritePackets(pkts)
}

// PacketDropped passes drop reports on to the inner endpoint, if it wants
// them (the pcap tee writes them as comments).
func (e *tapEndpoint) PacketDropped(data []byte, reason string) {
	if o, ok := e.Endpoint.(link.DropObserver); ok {
		o.PacketDropped(data, reason)
	}
}

// payloadSent matches an outgoing IPv4 packet with the held-back segment
// (same connection, same sequence number) and delivers it with its
// summary.
func (t *Tracer) payloadSent(pkt []byte) {
	ip, err := ipv4.ParseHeader(pkt)
	if err != nil || ip.Protocol() != ipv4.ProtocolTCP {
		return
	}
	h, err := tcp.ParseHeader(ip.Payload())
	if err != nil || len(h.Payload()) == 0 {
		return
	}
	id := tcp.FourTuple{LocalAddr: ip.SourceBytes(), RemoteAddr: ip.DestinationBytes(),
		LocalPort: h.SrcPort(), RemotePort: h.DstPort()}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.hasPending || t.pending.Conn != id || t.pending.Fields.Seq != h.Seq() {
		return
	}
	t.hasPending = false
	p := t.pending
	p.Summary = Summarize(h.Payload())
	t.deliverLocked(&p)
}
