package stack

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pipe"
	"github.com/tundra-net/tundra/tcp"
)

// This file holds the stack's stateful fuzz target: a sequence of hostile
// packets, application calls and clock steps against a whole Stack in
// Manual mode (IPv4 checks, fragment reassembly, the TCP demultiplexer, a
// listener and one connected socket), with the fuzzer's bytes choosing
// every field. tcp/fuzz_conn_test.go does the same for one bare tcp.Conn;
// here the packets go through DeliverPackets as a TUN would hand them in,
// so that IP-level mutations (bad checksums, truncation, fragments) and the
// stack-wide caps are covered too.

// Fixed parameters of the fuzzed world.
const (
	fuzzListenPort  = 80
	fuzzLocalPort   = 40000 // the connected socket's port on the stack
	fuzzRemotePort  = 9000  // the peer's end of the connected socket
	fuzzPeerISS     = tcp.Seq(0xfffff000)
	fuzzBacklog     = 3
	fuzzRecvBuf     = 4096
	fuzzSendBuf     = 4096
	fuzzReassembly  = 2048
	fuzzMSS         = 536
	fuzzPeerWScale  = 2
	fuzzFragMemory  = 8192
	fuzzFragDgrams  = 4
	fuzzRecordBytes = 8
	fuzzMaxRecords  = 200 // longer inputs are cut: a run stays fast
)

// fuzzPeerByte and fuzzOurByte give each byte of the two streams by its
// absolute sequence number, so any byte the application reads or the stack
// sends can be checked wherever in the sequence space it came from.
func fuzzPeerByte(s tcp.Seq) byte { return byte(uint32(s)*31 + 7) }
func fuzzOurByte(s tcp.Seq) byte  { return byte(uint32(s)*17 + 3) }

// fuzzWorld is one run's stack, the peer's view of the connected socket,
// and what the invariants compare against.
type fuzzWorld struct {
	t        *testing.T
	s        *Stack
	stackEnd *pipe.Endpoint
	peer     *pipe.Endpoint
	clk      *clock.Virtual
	ln       *TCPListener
	conn     *TCPConn
	inBatch  []link.Packet
	outBatch []link.Packet

	stackISS   tcp.Seq // the connected socket's ISS, from its SYN
	ourShift   int     // the stack's receive window shift, from its SYN
	peerMax    tcp.Seq // highest peer sequence number sent so far, plus one
	written    int     // bytes of our stream the application wrote
	delivered  int     // bytes of the peer's stream the application read
	finWritten bool    // the application closed the write side

	peerRight tcp.Seq // furthest right edge of the window the peer offered in any segment

	haveAck   bool    // lastAck and lastRight hold values
	lastAck   tcp.Seq // highest ACK the stack sent on the connection
	lastRight tcp.Seq // highest right window edge (ACK + window) it advertised
	accepted  int     // connections taken from the listener's queue
}

func newFuzzWorld(t *testing.T) *fuzzWorld {
	a, b := pipe.New(pipe.Options{QueueLen: 4096})
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg := tcp.DefaultConfig()
	cfg.ReceiveBufferSize = fuzzRecvBuf
	cfg.ReceiveBufferMin = fuzzRecvBuf / 4 // auto-tuning on: the window grows as the application reads
	cfg.SendBufferSize = fuzzSendBuf
	cfg.ReassemblyLimit = fuzzReassembly
	cfg.MSS = fuzzMSS
	cfg.DelayedAck = 10 * time.Millisecond
	cfg.MaxRetries = 4
	cfg.SynRetries = 2
	cfg.MSL = time.Second
	cfg.FinWait2Timeout = 2 * time.Second
	s, err := New(a, Options{
		Addresses: []netip.Addr{stackAddr}, Clock: clk, Manual: true, TCP: cfg,
		Reassembly: ipv4.ReassemblyLimits{Timeout: time.Second, MaxMemory: fuzzFragMemory, MaxDatagrams: fuzzFragDgrams},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); b.Close() })
	w := &fuzzWorld{t: t, s: s, stackEnd: a, peer: b, clk: clk,
		inBatch: make([]link.Packet, 16), outBatch: make([]link.Packet, 16)}
	for i := range w.inBatch {
		w.inBatch[i].Data = make([]byte, a.MaxPacketSize())
		w.outBatch[i].Data = make([]byte, b.MaxPacketSize())
	}
	w.ln, err = s.ListenTCP(netip.AddrPortFrom(netip.IPv4Unspecified(), fuzzListenPort), fuzzBacklog)
	if err != nil {
		t.Fatal(err)
	}
	// The connected socket: the stack dials the peer, which answers the SYN
	// with a SYN+ACK offering window scaling, so that every later segment
	// meets a synchronized connection.
	w.conn, err = s.StartDialTCP(fuzzLocalPort, netip.AddrPortFrom(peerAddr, fuzzRemotePort))
	if err != nil {
		t.Fatal(err)
	}
	syn := w.readOne()
	w.stackISS = syn.Seq
	w.ourShift = -1
	if syn.Options.HasWindowScale {
		w.ourShift = int(syn.Options.WindowScale)
	}
	synAck := tcp.HeaderFields{SrcPort: fuzzRemotePort, DstPort: fuzzLocalPort, Seq: fuzzPeerISS,
		Ack: w.stackISS + 1, Flags: tcp.FlagSYN | tcp.FlagACK, Window: 1024,
		Options: tcp.Options{HasMSS: true, MSS: fuzzMSS, HasWindowScale: true, WindowScale: fuzzPeerWScale}}
	w.peerMax = fuzzPeerISS + 1
	w.peerRight = synAck.Ack.Add(uint32(synAck.Window)) // a SYN's window is never scaled (RFC 7323 2.2)
	w.deliver(w.tcpPacket(synAck, nil, nil))
	w.drain()
	if st := w.conn.State(); st != tcp.Established {
		t.Fatalf("connected socket in %v after the handshake", st)
	}
	if w.ourShift < 0 {
		t.Fatal("the stack's SYN offered no window scale")
	}
	return w
}

// readOne returns the single TCP segment the stack has sent.
func (w *fuzzWorld) readOne() tcp.Segment {
	n, err := w.peer.PollPackets(w.outBatch[:1])
	if err != nil || n != 1 {
		w.t.Fatalf("expected one packet from the stack, got %d (%v)", n, err)
	}
	ip, err := ipv4.ParseHeader(w.outBatch[0].Data)
	if err != nil {
		w.t.Fatal(err)
	}
	seg, err := tcp.ParseSegment(ip.Payload())
	if err != nil {
		w.t.Fatal(err)
	}
	return seg
}

// tcpPacket builds an IPv4 packet carrying a TCP segment from the peer;
// rawOptions, if not nil, replace f.Options byte for byte (padded to a
// multiple of 4 with zeros), so that malformed options can be sent.
func (w *fuzzWorld) tcpPacket(f tcp.HeaderFields, rawOptions, payload []byte) []byte {
	optLen := f.Options.EncodedLen()
	if rawOptions != nil {
		optLen = (len(rawOptions) + 3) &^ 3
	}
	seg := make([]byte, tcp.HeaderMinLen+optLen+len(payload))
	if rawOptions != nil {
		f.Options = tcp.Options{}
		if _, err := f.Encode(seg); err != nil {
			w.t.Fatal(err)
		}
		copy(seg[tcp.HeaderMinLen:], rawOptions)
		seg[12] = byte((tcp.HeaderMinLen+optLen)/4) << 4
	} else if _, err := f.Encode(seg); err != nil {
		w.t.Fatal(err)
	}
	copy(seg[tcp.HeaderMinLen+optLen:], payload)
	tcp.SetChecksum(seg, peerAddr.As4(), stackAddr.As4())
	return fuzzIPPacket(ipv4.HeaderFields{}, seg)
}

// fuzzIPPacket wraps payload in an IPv4 header from the peer to the stack;
// f may set the identification, flags and fragment offset.
func fuzzIPPacket(f ipv4.HeaderFields, payload []byte) []byte {
	f.TTL, f.Protocol, f.Src, f.Dst, f.PayloadLength = 64, ipv4.ProtocolTCP, peerAddr, stackAddr, len(payload)
	b := make([]byte, f.Size()+len(payload))
	n := f.Encode(b)
	copy(b[n:], payload)
	return b
}

// deliver hands raw packets to the stack, as its pump would.
func (w *fuzzWorld) deliver(pkts ...[]byte) {
	batch := make([]link.Packet, len(pkts))
	for i, p := range pkts {
		batch[i].Data = p
	}
	w.s.DeliverPackets(batch)
}

// peerPayload returns n bytes of the peer's stream starting at seq.
func peerPayload(seq tcp.Seq, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = fuzzPeerByte(seq + tcp.Seq(i))
	}
	return p
}

// drain reads every packet the stack sent and checks each against the
// invariants of the connected socket's sending side.
func (w *fuzzWorld) drain() {
	for {
		n, err := w.peer.PollPackets(w.outBatch)
		if err != nil {
			w.t.Fatal(err)
		}
		for i := range w.outBatch[:n] {
			w.checkSent(w.outBatch[i].Data)
			w.outBatch[i].Data = w.outBatch[i].Data[:cap(w.outBatch[i].Data)]
		}
		if n == 0 {
			return
		}
	}
}

// checkSent checks one packet the stack sent.
func (w *fuzzWorld) checkSent(pkt []byte) {
	t := w.t
	ip, err := ipv4.ParseHeader(pkt)
	if err != nil {
		t.Fatalf("stack sent a malformed IPv4 packet: %v", err)
	}
	if !ip.ChecksumValid() || ip.Source() != stackAddr || ip.Destination() != peerAddr {
		t.Fatalf("stack sent a bad IPv4 header: %v", ip)
	}
	if ip.Protocol() != ipv4.ProtocolTCP || ip.IsFragment() {
		return // ICMP errors are checked by the ICMP tests
	}
	h, err := tcp.ParseHeader(ip.Payload())
	if err != nil {
		t.Fatalf("stack sent a malformed TCP header: %v", err)
	}
	if !h.ChecksumValid(ip.SourceBytes(), ip.DestinationBytes()) {
		t.Fatal("stack sent a TCP segment with a bad checksum")
	}
	seg, err := tcp.SegmentFromHeader(h)
	if err != nil {
		t.Fatalf("stack sent bad TCP options: %v", err)
	}
	if seg.SrcPort != fuzzLocalPort || seg.DstPort != fuzzRemotePort || seg.Flags&tcp.FlagRST != 0 {
		return
	}
	// Data is exactly our stream, and never beyond what the application
	// wrote (plus the FIN, RFC 9293 3.4).
	start := seg.Seq
	if seg.Flags&tcp.FlagSYN != 0 {
		start++
	}
	for i, c := range seg.Payload {
		if want := fuzzOurByte(start + tcp.Seq(i)); c != want {
			t.Fatalf("sent byte at seq %d is %#x, want %#x", uint32(start)+uint32(i), c, want)
		}
	}
	end := seg.Seq + tcp.Seq(seg.Len())
	if limit := w.stackISS + 1 + tcp.Seq(w.written) + 1; tcp.Seq(limit-end) > 1<<30 {
		t.Fatalf("segment ends at %d, past the %d bytes written", uint32(end-w.stackISS), w.written)
	}
	// The sender stays within the window the peer offered (RFC 9293
	// 3.8.6.2.1), measured from the ACK that carried it; one byte more is a
	// zero-window probe (3.8.6.1). peerRight is the furthest edge of any
	// segment the peer sent, accepted or not, so this bound is generous.
	if dataEnd := start + tcp.Seq(len(seg.Payload)); len(seg.Payload) > 0 && tcp.Seq(dataEnd-(w.peerRight+1)) < 1<<30 && dataEnd != w.peerRight+1 {
		t.Fatalf("sent data ends %d bytes past the furthest window edge the peer offered (seq %d, %d bytes)",
			uint32(dataEnd-w.peerRight), uint32(start-w.stackISS), len(seg.Payload))
	}
	if seg.Flags&tcp.FlagFIN != 0 && !w.finWritten {
		t.Fatal("FIN sent before the application closed its side")
	}
	if seg.Flags&tcp.FlagACK == 0 || seg.Flags&tcp.FlagSYN != 0 {
		return
	}
	// RCV.NXT never goes back, and never runs ahead of what the peer sent
	// (RFC 9293 3.4); the right edge of the offered window never moves left
	// (3.8.6.2.2: "the receiver SHOULD NOT shrink the window").
	if tcp.Seq(w.peerMax+1-seg.Ack) > 1<<30 {
		t.Fatalf("ACK %d acknowledges more than the peer sent (%d)", uint32(seg.Ack-fuzzPeerISS), uint32(w.peerMax-fuzzPeerISS))
	}
	right := seg.Ack + tcp.Seq(uint32(seg.Window)<<w.ourShift)
	if w.haveAck {
		if tcp.Seq(seg.Ack-w.lastAck) > 1<<30 {
			t.Fatalf("ACK went back from %d to %d", uint32(w.lastAck-fuzzPeerISS), uint32(seg.Ack-fuzzPeerISS))
		}
		if tcp.Seq(right-w.lastRight) > 1<<30 {
			t.Fatalf("window shrank: right edge %d after %d (ACK %d, window %d)",
				uint32(right-fuzzPeerISS), uint32(w.lastRight-fuzzPeerISS), uint32(seg.Ack-fuzzPeerISS), seg.Window)
		}
	}
	if !w.haveAck || tcp.Seq(right-w.lastRight) < 1<<30 {
		w.lastRight = right
	}
	w.haveAck, w.lastAck = true, seg.Ack
}

// checkCaps checks the stack-wide and per-connection limits.
func (w *fuzzWorld) checkCaps() {
	t := w.t
	st := w.conn.Stats()
	if st.BytesInFlight < 0 || st.BytesInFlight > w.written+2 {
		t.Fatalf("SND.NXT - SND.UNA = %d with %d bytes written", st.BytesInFlight, w.written)
	}
	if st.SendBuffered > fuzzSendBuf {
		t.Fatalf("send buffer holds %d bytes, limit %d", st.SendBuffered, fuzzSendBuf)
	}
	if st.ReceiveBuffered+st.OutOfOrderQueued > fuzzRecvBuf {
		t.Fatalf("receive buffer holds %d + %d out of order, limit %d", st.ReceiveBuffered, st.OutOfOrderQueued, fuzzRecvBuf)
	}
	if st.OutOfOrderQueued > fuzzReassembly {
		t.Fatalf("%d bytes out of order, limit %d", st.OutOfOrderQueued, fuzzReassembly)
	}
	// The listener holds at most its backlog; accepted ones and the
	// connected socket come on top.
	if n := w.s.ConnectionCount(); n > fuzzBacklog+1+w.accepted {
		t.Fatalf("%d connections, cap %d", n, fuzzBacklog+1+w.accepted)
	}
	if d, b := w.s.ReassemblyPending(); d > fuzzFragDgrams || b > fuzzFragMemory {
		t.Fatalf("reassembly holds %d datagrams, %d bytes; limits %d, %d", d, b, fuzzFragDgrams, fuzzFragMemory)
	}
}

// FuzzStackSegments runs a sequence of 8-byte records against a stack with
// a listener (port 80, backlog 3) and one established connection. Each
// record is one step: a segment to the connection with fuzzed sequence,
// acknowledgment, flags, window and length; a SYN or other segment to the
// listener from one of a few ports; malformed options; a mutated packet
// (bad checksum, truncated, bad data offset, fragmented with overlap); an
// application write, read, close or accept; a clock step. After every step
// it checks that the stack did not panic, that every segment it sent is
// well formed, carries only our stream, never more than was written and
// never past the window the peer offered,
// that its ACKs never go back or ahead of the peer and its window's right
// edge never moves left, that the application reads exactly the peer's
// stream in order, and that buffers, connection count and IP reassembly
// stay within their caps.
func FuzzStackSegments(f *testing.F) {
	// In-order data, read, then an ACK for what we wrote.
	f.Add([]byte{0, 0, 0, 0, 0, 0x18, 32, 20, 4, 100, 0, 0, 0, 0, 0, 0,
		3, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 160, 0, 0x10, 32, 0})
	// A SYN flood against the listener, then time passes.
	f.Add([]byte{1, 0, 0x02, 0, 0, 0, 0, 0, 1, 1, 0x02, 0, 0, 0, 0, 0, 1, 2, 0x02, 0, 0, 0, 0, 0,
		1, 3, 0x02, 0, 0, 0, 0, 0, 1, 4, 0x02, 0, 0, 0, 0, 0, 2, 200, 3, 0, 0, 0, 0, 0})
	// Out-of-order data past a hole, then the hole filled.
	f.Add([]byte{0, 0, 200, 0, 0, 0x18, 32, 30, 0, 0, 100, 0, 0, 0x18, 32, 60,
		0, 0, 0, 0, 0, 0x18, 32, 100, 4, 255, 0, 0, 0, 0, 0, 0})
	// Malformed options and a fragmented, overlapping segment.
	f.Add([]byte{7, 1, 2, 0, 0, 0, 0, 0, 7, 3, 3, 15, 0, 0, 0, 0, 5, 4, 0, 0, 0, 0, 20, 30,
		5, 5, 0, 0, 0, 0, 20, 30})
	// The window update rule (RFC 9293 3.10.7.4, SND.WL1 and SND.WL2): we
	// write 1600 bytes; the peer offers 2048 from SND.UNA in a segment
	// ahead of RCV.NXT, then acknowledges all 1600 with window 0 in an
	// older segment, which must not update SND.WND; the 2000 bytes written
	// next may still only fill the 2048 offered from the first ACK.
	f.Add([]byte{3, 100, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x50, 0xf9, 0xc0, 0x10, 8, 0,
		0, 0, 0, 0, 0, 0x10, 0, 0, 3, 125, 0, 0, 0, 0, 0, 0})
	// In-window RST and SYN (RFC 5961), then close.
	f.Add([]byte{0, 0, 10, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 6, 2, 0, 0, 0, 0, 0, 0,
		2, 255, 1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzMaxRecords*fuzzRecordBytes {
			data = data[:fuzzMaxRecords*fuzzRecordBytes]
		}
		w := newFuzzWorld(t)
		w.checkCaps()
		for len(data) >= fuzzRecordBytes {
			rec := data[:fuzzRecordBytes]
			data = data[fuzzRecordBytes:]
			w.step(rec)
			w.drain()
			w.checkCaps()
		}
	})
}

// step performs one record.
func (w *fuzzWorld) step(rec []byte) {
	switch rec[0] % 8 {
	case 0: // a segment to the connected socket
		w.deliver(w.connSegment(rec, nil))
	case 1: // a segment to the listener from one of eight ports
		f := tcp.HeaderFields{SrcPort: 1000 + uint16(rec[1]%8), DstPort: fuzzListenPort,
			Seq: tcp.Seq(binary.BigEndian.Uint32(rec[3:7])), Ack: tcp.Seq(rec[7]) << 24,
			Flags: tcp.Flags(rec[2]), Window: 1024,
			Options: tcp.Options{HasMSS: rec[7]&1 != 0, MSS: uint16(rec[6]) * 8, HasWindowScale: rec[7]&2 != 0,
				WindowScale: rec[5] % 20, SACKPermitted: rec[7]&4 != 0}}
		w.deliver(w.tcpPacket(f, nil, nil))
	case 2: // time passes: up to 2.55 s, or up to 255 s
		d := time.Duration(rec[1]) * 10 * time.Millisecond
		if rec[2]%4 == 1 {
			d = time.Duration(rec[1]) * time.Second
		}
		w.clk.Advance(d)
	case 3: // the application writes
		n := min(int(rec[1])*16, w.conn.Writable())
		if n > 0 && !w.finWritten {
			p := make([]byte, n)
			for i := range p {
				p[i] = fuzzOurByte(w.stackISS + 1 + tcp.Seq(w.written+i))
			}
			k, _ := w.conn.Write(p)
			w.written += k
		}
	case 4: // the application reads
		if !w.conn.ReadReady() {
			return
		}
		p := make([]byte, int(rec[1])*16+1)
		n, _ := w.conn.Read(p)
		for i, c := range p[:n] {
			if want := fuzzPeerByte(fuzzPeerISS + 1 + tcp.Seq(w.delivered+i)); c != want {
				w.t.Fatalf("read byte %d is %#x, want %#x", w.delivered+i, c, want)
			}
		}
		w.delivered += n
		if tcp.Seq(w.peerMax-(fuzzPeerISS+1+tcp.Seq(w.delivered))) > 1<<30 {
			w.t.Fatalf("read %d bytes, more than the peer sent", w.delivered)
		}
	case 5: // a mutated packet for the connected socket
		w.mutated(rec)
	case 6: // the application closes or accepts
		switch rec[1] % 4 {
		case 0:
			if !w.finWritten {
				w.finWritten = true
				w.conn.CloseWrite()
			}
		case 1:
			w.finWritten = true
			w.conn.Close()
		default:
			if c := w.ln.TryAcceptTCP(); c != nil {
				w.accepted++
				if rec[1]%4 == 2 {
					c.Close()
				}
			}
		}
	case 7: // raw, possibly malformed options to the connection or listener
		f := tcp.HeaderFields{SrcPort: fuzzRemotePort, DstPort: fuzzLocalPort, Seq: w.peerMax,
			Ack: w.stackISS + 1 + tcp.Seq(w.written), Flags: tcp.FlagACK, Window: 1000}
		if rec[1]&0x80 != 0 {
			f.SrcPort, f.DstPort, f.Flags = 2000, fuzzListenPort, tcp.FlagSYN
		} else {
			w.notePeerWindow(f)
		}
		w.deliver(w.tcpPacket(f, rec[2:], nil))
	}
}

// connSegment builds a segment to the connected socket from a record:
// sequence number relative to the peer's ISS (rec[1:3], signed), ACK
// relative to the bytes written (rec[3:5], signed), flags rec[5], window
// rec[6]*64 and payload length rec[7]*8 from the peer's stream.
func (w *fuzzWorld) connSegment(rec, rawOptions []byte) []byte {
	seq := fuzzPeerISS + 1 + tcp.Seq(int16(binary.BigEndian.Uint16(rec[1:3])))
	ack := w.stackISS + 1 + tcp.Seq(w.written) + tcp.Seq(int16(binary.BigEndian.Uint16(rec[3:5])))
	flags := tcp.Flags(rec[5])
	n := int(rec[7]) * 8
	start := seq
	if flags&tcp.FlagSYN != 0 {
		start++
	}
	f := tcp.HeaderFields{SrcPort: fuzzRemotePort, DstPort: fuzzLocalPort, Seq: seq, Ack: ack,
		Flags: flags, Window: uint16(rec[6]) * 64}
	end := start + tcp.Seq(n)
	if flags&tcp.FlagFIN != 0 {
		end++
	}
	if tcp.Seq(end-w.peerMax) < 1<<30 {
		w.peerMax = end
	}
	w.notePeerWindow(f)
	return w.tcpPacket(f, rawOptions, peerPayload(start, n))
}

// mutated sends a valid data segment for the connected socket with one
// thing broken, chosen by rec[1]: a bad TCP checksum, a bad IP checksum, a
// truncated packet, a data offset past the segment, or the segment in two
// IP fragments (overlapping, tiny, or with one missing).
func (w *fuzzWorld) mutated(rec []byte) {
	base := [8]byte{0, rec[2], rec[3], 0, 0, byte(tcp.FlagACK | tcp.FlagPSH), 64, rec[6] % 64}
	if rec[1]%6 == 3 {
		// Short enough that a 60-byte data offset points past the end
		// (a longer payload would be read as options and data shifted,
		// which no check can tell from a peer's honest bytes).
		base[7] %= 4
	}
	pkt := w.connSegment(base[:], nil)
	const ipLen = ipv4.MinHeaderSize
	switch rec[1] % 6 {
	case 0: // TCP checksum wrong
		pkt[ipLen+16] ^= 0x5a
		w.deliver(pkt)
	case 1: // IP checksum wrong
		pkt[10] ^= 0x5a
		w.deliver(pkt)
	case 2: // truncated below the IP total length
		w.deliver(pkt[:ipLen+int(rec[4])%(len(pkt)-ipLen)])
	case 3: // data offset past the segment
		pkt[ipLen+12] = 0xf0
		seg := pkt[ipLen:]
		seg[16], seg[17] = 0, 0
		tcp.SetChecksum(seg, peerAddr.As4(), stackAddr.As4())
		w.deliver(pkt)
	default: // two fragments: the first cut at a multiple of 8, the second
		// starting up to 16 bytes early (overlap), possibly alone
		seg := pkt[ipLen:]
		cut := 8 * (1 + int(rec[4])%((len(seg)-1)/8+1))
		if cut >= len(seg) {
			cut = 8
		}
		back := 8 * (int(rec[5]) % 3)
		second := max(cut-back, 0)
		id := uint16(rec[7])
		first := fuzzIPPacket(ipv4.HeaderFields{ID: id, Flags: ipv4.MoreFragments}, seg[:cut])
		rest := fuzzIPPacket(ipv4.HeaderFields{ID: id, FragmentOffset: second}, seg[second:])
		if rec[1]%6 == 5 && rec[4]&1 != 0 {
			w.deliver(first) // the rest never comes: the reassembly timeout frees it
		} else {
			w.deliver(rest, first)
		}
	}
}

// notePeerWindow records the right edge of the window a segment from the
// peer offers, if it carries an ACK (RFC 9293 3.8.6: SEG.ACK + SEG.WND,
// scaled by the peer's shift, RFC 7323 2.3).
func (w *fuzzWorld) notePeerWindow(f tcp.HeaderFields) {
	if f.Flags&tcp.FlagACK == 0 || f.Flags&(tcp.FlagSYN|tcp.FlagRST) != 0 {
		return
	}
	right := f.Ack.Add(uint32(f.Window) << fuzzPeerWScale)
	if right.GreaterThan(w.peerRight) {
		w.peerRight = right
	}
}
