// Package pcap records the packets crossing a link in a pcapng capture that
// Wireshark, tshark and tcpdump open directly.
//
// NewTee wraps any link.Endpoint. Every packet the stack writes through it
// and every packet the stack reads from it is also written to an io.Writer
// as a pcapng Enhanced Packet Block (the format of
// draft-ietf-opsawg-pcapng), with its timestamp from a clock.Clock and its
// direction in the block's flags option (inbound: read by the stack;
// outbound: written by it). The link type is LINKTYPE_RAW (101): each
// packet begins with its IP header, which is what a TUN carries and what
// every version of Wireshark and tcpdump decodes.
//
// The tee also says why the stack threw a packet away. It implements
// link.DropObserver: the stack reports a dropped packet, with a reason,
// before it reads the next batch, so the tee holds each batch it has read
// until the next ReadPackets call (or Flush, or Close) and then writes it,
// with a comment such as "dropped by tundra: bad checksum" on the packets
// the stack refused. Packets the stack writes while a batch is held are held
// too and written after it, so the capture stays in time order: a request
// always comes before its reply. Super-packets and packets with a partial
// checksum carry a comment saying so, because Wireshark would otherwise
// show them as oversized or corrupt.
//
// The tee copies what it holds into buffers of its own, kept for reuse, and
// writes through a buffered writer: call Flush (or Close) before reading
// the capture. The file's section header and interface description are
// written by gopacket's pcapgo.NgWriter; the packet blocks by this package's
// own small encoder (writeEPB), because pcapgo allocates twice for every
// packet with options and a tee must not add garbage per packet. The tests
// read every capture back with pcapgo.NgReader and, where installed, tshark.
package pcap

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/link"
)

// LinkType is the pcapng link type of the captures: LINKTYPE_RAW, packets
// that start with an IPv4 (or IPv6) header.
const LinkType = layers.LinkTypeRaw

// DefaultMaxHeld is the default for Options.MaxHeld.
const DefaultMaxHeld = 1024

// DropCommentPrefix begins the comment on a packet the stack dropped; the
// reason given to PacketDropped follows it.
const DropCommentPrefix = "dropped by tundra: "

// Options configure a Tee. The zero value is usable.
type Options struct {
	// Clock stamps each packet (default clock.Real).
	Clock clock.Clock
	// Interface names the link in the capture's interface description
	// (default "tundra").
	Interface string
	// MaxHeld bounds how many packets written by the stack are held while
	// a read batch waits for drop reports (default 1024). Past it, the
	// held batch is written at once and later drop reports for it are
	// not recorded.
	MaxHeld int
}

// Tee is a link.Endpoint that records the traffic of the endpoint it wraps.
// It is safe for one reader and several writers at once, like the endpoint
// inside.
type Tee struct {
	inner    link.Endpoint
	poller   link.Poller       // inner, if it can be read without waiting (link.Pollable)
	observer link.DropObserver // inner's, to pass drop reports on
	clk      clock.Clock
	maxHeld  int

	mu       sync.Mutex
	w        *bufio.Writer
	err      error // the first error writing the capture; sticky
	closed   bool
	inbound  heldList // the last batch read, waiting for drop reports
	outbound heldList // written while inbound is held
	comments [2]string
	scratch  [28]byte
}

var (
	_ link.Endpoint     = (*Tee)(nil)
	_ link.Poller       = (*Tee)(nil)
	_ link.DropObserver = (*Tee)(nil)
)

// NewTee returns an endpoint that passes everything through to inner and
// writes it to w as pcapng. It writes the capture's header to w at once, and
// returns that write's error, if any. Closing the tee closes inner but not w.
func NewTee(inner link.Endpoint, w io.Writer, opts Options) (*Tee, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Interface == "" {
		opts.Interface = "tundra"
	}
	if opts.MaxHeld <= 0 {
		opts.MaxHeld = DefaultMaxHeld
	}
	intf := pcapgo.NgInterface{
		Name:                opts.Interface,
		Description:         fmt.Sprintf("tundra link, MTU %d", inner.MTU()),
		OS:                  runtime.GOOS,
		LinkType:            LinkType,
		SnapLength:          0, // no limit: whole packets
		TimestampResolution: 9, // nanoseconds
	}
	section := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
		Hardware:    runtime.GOARCH,
		OS:          runtime.GOOS,
		Application: "tundra",
	}}
	header, err := pcapgo.NewNgWriterInterface(w, intf, section)
	if err == nil {
		err = header.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	t := &Tee{
		inner:   inner,
		clk:     opts.Clock,
		maxHeld: opts.MaxHeld,
		w:       bufio.NewWriterSize(w, 64<<10),
	}
	t.poller, _ = link.Pollable(inner)
	t.observer, _ = inner.(link.DropObserver)
	return t, nil
}

// MTU returns the inner endpoint's MTU.
func (t *Tee) MTU() int { return t.inner.MTU() }

// MaxPacketSize returns the inner endpoint's MaxPacketSize.
func (t *Tee) MaxPacketSize() int { return t.inner.MaxPacketSize() }

// Offloads returns the inner endpoint's offloads.
func (t *Tee) Offloads() link.Offloads { return t.inner.Offloads() }

// ReadPackets first writes the batch read last time, with any drop reports
// the stack made about it, then reads from the inner endpoint and holds what
// it got for the stack's verdict.
func (t *Tee) ReadPackets(pkts []link.Packet) (int, error) {
	t.writeHeld()
	n, err := t.inner.ReadPackets(pkts)
	t.hold(pkts[:n])
	return n, err
}

// writeHeld writes the batch read last time, with its drop reports.
func (t *Tee) writeHeld() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writeHeldLocked()
}

// hold keeps the packets just read until the stack's drop reports for
// them are in (they are written at the next read).
func (t *Tee) hold(pkts []link.Packet) {
	if len(pkts) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clk.Now()
	for i := range pkts {
		if t.closed {
			break
		}
		t.inbound.add(&pkts[i], now)
	}
}

// PollPackets is ReadPackets without the wait (link.Poller), for an inner
// endpoint that can poll (CanPoll): it writes the batch read last time,
// then takes what the inner endpoint has queued and holds it for the
// stack's verdict. Otherwise it returns link.ErrNotPollable.
func (t *Tee) PollPackets(pkts []link.Packet) (int, error) {
	if t.poller == nil {
		return 0, link.ErrNotPollable
	}
	t.writeHeld()
	n, err := t.poller.PollPackets(pkts)
	t.hold(pkts[:n])
	return n, err
}

// WaitPackets waits as the inner endpoint's WaitPackets does (link.Poller),
// or returns link.ErrNotPollable if it cannot poll.
func (t *Tee) WaitPackets() error {
	if t.poller == nil {
		return link.ErrNotPollable
	}
	return t.poller.WaitPackets()
}

// CanPoll reports whether the inner endpoint can be read without waiting,
// and so the tee (see link.Pollable).
func (t *Tee) CanPoll() bool { return t.poller != nil }

// WritePackets writes pkts through the inner endpoint and records the
// packets it took.
func (t *Tee) WritePackets(pkts []link.Packet) (int, error) {
	// The lock is held across the inner write, so that the peer's answer,
	// read on another goroutine, cannot be recorded before the packet that
	// caused it (a capture must keep cause before effect, or Wireshark
	// cannot follow, and decrypt, a TLS stream).
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.inner.WritePackets(pkts)
	if n == 0 {
		return n, err
	}
	now := t.clk.Now()
	for i := range pkts[:n] {
		p := &pkts[i]
		switch {
		case t.closed:
		case t.inbound.len() > 0:
			t.outbound.add(p, now)
			if t.outbound.len() >= t.maxHeld {
				t.writeHeldLocked()
			}
		default:
			t.writePacketLocked(p.Data, p.Offload, now, flagOutbound, "")
		}
	}
	return n, err
}

// PacketDropped records why the stack discarded a packet of the batch it
// read last; data must be (or start at) the Data slice ReadPackets filled.
// A report about a packet the tee no longer holds is ignored. The report is
// passed on to the inner endpoint if it observes drops too.
func (t *Tee) PacketDropped(data []byte, reason string) {
	t.mu.Lock()
	t.inbound.markDropped(data, reason)
	t.mu.Unlock()
	if t.observer != nil {
		t.observer.PacketDropped(data, reason)
	}
}

// Flush writes every held packet and flushes the capture to the writer. It
// returns the first error met writing the capture, now or before. Drop
// reports that arrive after Flush for a batch it wrote are not recorded.
func (t *Tee) Flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.flushLocked()
}

func (t *Tee) flushLocked() error {
	t.writeHeldLocked()
	if t.err == nil {
		if err := t.w.Flush(); err != nil {
			t.err = fmt.Errorf("pcap: %w", err)
		}
	}
	return t.err
}

// Close flushes the capture, stops recording and closes the inner
// endpoint. It returns the capture's first error, else the inner Close's.
// The writer is not closed.
func (t *Tee) Close() error {
	t.mu.Lock()
	var err error
	if !t.closed {
		err = t.flushLocked()
		t.closed = true
	}
	t.mu.Unlock()
	if cerr := t.inner.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeHeldLocked writes the held read batch, then what was written while
// it was held, and empties both.
func (t *Tee) writeHeldLocked() {
	for i := range t.inbound.pkts[:t.inbound.n] {
		h := &t.inbound.pkts[i]
		comment := ""
		if h.dropReason != "" {
			comment = DropCommentPrefix + h.dropReason
		}
		t.writePacketLocked(h.data, h.offload, h.at, flagInbound, comment)
	}
	t.inbound.reset()
	for i := range t.outbound.pkts[:t.outbound.n] {
		h := &t.outbound.pkts[i]
		t.writePacketLocked(h.data, h.offload, h.at, flagOutbound, "")
	}
	t.outbound.reset()
}

// Values of the direction bits (0-1) of the epb_flags option
// (draft-ietf-opsawg-pcapng section 4.3.1).
const (
	flagInbound  uint32 = 1
	flagOutbound uint32 = 2
)

// pcapng block and option codes (draft-ietf-opsawg-pcapng sections 3.5,
// 4.3).
const (
	blockEnhancedPacket = 6
	optEndOfOpt         = 0
	optComment          = 1
	optEPBFlags         = 2
	maxOptionLen        = 0xffff
)

// writePacketLocked writes one packet with its direction and comments.
// After a write error the capture is broken, so it writes nothing more.
func (t *Tee) writePacketLocked(data []byte, off link.Offload, at time.Time, direction uint32, comment string) {
	if t.err != nil {
		return
	}
	nc := 0
	if comment != "" {
		t.comments[nc] = comment
		nc++
	}
	if off != (link.Offload{}) {
		t.comments[nc] = offloadComment(off)
		nc++
	}
	if err := t.writeEPB(data, at, direction, t.comments[:nc]); err != nil {
		t.err = fmt.Errorf("pcap: %w", err)
	}
	t.comments = [2]string{}
}

// writeEPB writes an Enhanced Packet Block (draft-ietf-opsawg-pcapng
// section 4.3) for interface 0, little-endian like the header pcapgo wrote:
//
//	block type 6 | total length | interface ID | timestamp high | low
//	captured length | original length | packet data, padded to 4
//	options: comments (code 1), epb_flags (code 2), end of options
//	total length again
//
// The timestamp counts nanoseconds since 1970, matching if_tsresol 9 in the
// interface description.
func (t *Tee) writeEPB(data []byte, at time.Time, direction uint32, comments []string) error {
	optLen := 8 + 4 // epb_flags, then end of options
	for i, c := range comments {
		if len(c) > maxOptionLen {
			comments[i] = c[:maxOptionLen]
		}
		optLen += 4 + padded(len(comments[i]))
	}
	total := 28 + padded(len(data)) + optLen + 4
	le := binary.LittleEndian
	b := t.scratch[:]
	ts := uint64(at.UnixNano())
	le.PutUint32(b[0:], blockEnhancedPacket)
	le.PutUint32(b[4:], uint32(total))
	le.PutUint32(b[8:], 0) // interface ID
	le.PutUint32(b[12:], uint32(ts>>32))
	le.PutUint32(b[16:], uint32(ts))
	le.PutUint32(b[20:], uint32(len(data)))
	le.PutUint32(b[24:], uint32(len(data)))
	t.w.Write(b[:28])
	t.w.Write(data)
	t.pad(len(data))
	for _, c := range comments {
		t.option(optComment, len(c))
		t.w.WriteString(c)
		t.pad(len(c))
	}
	t.option(optEPBFlags, 4)
	le.PutUint32(b[:4], direction)
	t.w.Write(b[:4])
	t.option(optEndOfOpt, 0)
	le.PutUint32(b[:4], uint32(total))
	_, err := t.w.Write(b[:4]) // bufio.Writer keeps its first error
	return err
}

// option writes an option header: code and value length.
func (t *Tee) option(code, length int) {
	binary.LittleEndian.PutUint16(t.scratch[0:], uint16(code))
	binary.LittleEndian.PutUint16(t.scratch[2:], uint16(length))
	t.w.Write(t.scratch[:4])
}

// pad writes the zero bytes that bring n up to a multiple of 4.
func (t *Tee) pad(n int) {
	if k := padded(n) - n; k > 0 {
		t.w.Write(zeroPad[:k])
	}
}

var zeroPad [3]byte

func padded(n int) int { return (n + 3) &^ 3 }

// offloadComment explains a packet's offload metadata to a reader of the
// capture.
func offloadComment(off link.Offload) string {
	s := ""
	switch off.GSOType {
	case link.GSOTCPv4:
		s = fmt.Sprintf("TCP super-packet (TSO), segments of %d bytes", off.GSOSize)
	case link.GSOUDPL4:
		s = fmt.Sprintf("UDP super-packet (USO), datagrams of %d bytes", off.GSOSize)
	}
	if off.NeedsChecksum {
		if s != "" {
			s += "; "
		}
		s += fmt.Sprintf("checksum left to the receiver (start %d, field at +%d)", off.ChecksumStart, off.ChecksumOffset)
	}
	if off.ChecksumValid {
		if s != "" {
			s += "; "
		}
		s += "checksum verified by the sender's side"
	}
	return s
}

// heldList is a reusable list of copied packets. Its entries, and their
// buffers, are kept between uses, so holding packets allocates only until
// the list has grown to the largest batch.
type heldList struct {
	pkts []heldPacket
	n    int
}

type heldPacket struct {
	data       []byte // the tee's own copy
	origin     *byte  // first byte of the caller's Data, to match drop reports
	offload    link.Offload
	at         time.Time
	dropReason string
}

func (l *heldList) len() int { return l.n }

func (l *heldList) add(p *link.Packet, at time.Time) {
	if l.n == len(l.pkts) {
		l.pkts = append(l.pkts, heldPacket{})
	}
	h := &l.pkts[l.n]
	h.data = append(h.data[:0], p.Data...)
	h.origin = unsafe.SliceData(p.Data)
	h.offload = p.Offload
	h.at = at
	h.dropReason = ""
	l.n++
}

func (l *heldList) markDropped(data []byte, reason string) {
	origin := unsafe.SliceData(data)
	for i := range l.pkts[:l.n] {
		if l.pkts[i].origin == origin {
			l.pkts[i].dropReason = reason
			return
		}
	}
}

func (l *heldList) reset() {
	for i := range l.pkts[:l.n] {
		l.pkts[i].origin = nil // do not keep the caller's buffer alive
		l.pkts[i].dropReason = ""
	}
	l.n = 0
}
