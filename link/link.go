// Package link defines how the stack meets the wire: an Endpoint moves
// batches of raw IPv4 packets in and out.
//
// An Endpoint knows nothing about protocols. It is handed packets that begin
// with an IPv4 header and delivers packets that begin with one. Packets move
// in batches, because every system call and every wake-up costs more than the
// work on one small packet; a batch of one is always allowed.
//
// Each packet carries Offload metadata beside its bytes. A plain endpoint
// ignores it (Offloads reports nothing supported, and the stack never sets
// it). An endpoint that can hand work to the other side, such as a Linux TUN
// opened with IFF_VNET_HDR, reports what it can do through Offloads, and the
// stack may then write TCP super-packets that the kernel cuts into segments,
// or leave checksums for the kernel to finish. This is why the metadata is
// part of the interface from the start: offloads fit in without a rewrite.
//
// Implementations in sub-packages: tun (a Linux TUN device), pipe (two
// connected in-memory endpoints), impair (seeded loss, duplication,
// reordering, delay, corruption and a rate limit around any endpoint) and
// pcap (a tee that writes both directions to a pcapng file).
package link

import "errors"

// ErrClosed is returned by ReadPackets and WritePackets once the endpoint is
// closed.
var ErrClosed = errors.New("link: endpoint closed")

// Packet is one IP packet crossing a link, with the offload metadata that
// travels beside it.
type Packet struct {
	// Data holds the packet, starting at its IPv4 header. On ReadPackets the
	// caller supplies Data with enough capacity (at least MaxPacketSize of the
	// endpoint) and the endpoint reslices it to the packet's length.
	Data []byte
	// Offload describes work the sender left to the receiver. Zero means
	// none: the packet is complete, checksums included.
	Offload Offload
}

// GSOType says what kind of super-packet a Packet is.
type GSOType uint8

const (
	// GSONone: an ordinary packet of at most MTU bytes.
	GSONone GSOType = iota
	// GSOTCPv4: an IPv4 TCP super-packet; the receiver cuts its payload into
	// segments of at most GSOSize bytes, fixing sequence numbers, IP IDs,
	// lengths, flags and checksums in each.
	GSOTCPv4
	// GSOUDPL4: a UDP super-packet cut into datagrams of GSOSize bytes (USO).
	GSOUDPL4
)

// Offload is the metadata a packet carries for offloaded work. Its fields
// mirror Linux's struct virtio_net_hdr, so a TUN with IFF_VNET_HDR maps it
// one to one.
type Offload struct {
	// GSOType and GSOSize describe a super-packet; GSOSize is the largest
	// payload of one resulting segment (the MSS for TCP).
	GSOType GSOType
	GSOSize uint16
	// NeedsChecksum says the transport checksum is partial: the field at
	// ChecksumStart+ChecksumOffset holds only the pseudo-header sum, and the
	// checksum over bytes from ChecksumStart to the end must still be folded
	// in by whoever receives the packet.
	NeedsChecksum  bool
	ChecksumStart  uint16
	ChecksumOffset uint16
	// ChecksumValid, on received packets only, says the other side already
	// verified the transport checksum.
	ChecksumValid bool
}

// Offloads lists what an Endpoint can accept on WritePackets and may deliver
// on ReadPackets. The zero value means plain packets only.
type Offloads struct {
	// TSO4: WritePackets accepts GSOTCPv4 super-packets, and ReadPackets may
	// deliver them (GRO on the other side).
	TSO4 bool
	// USO4: the same for GSOUDPL4.
	USO4 bool
	// Checksum: NeedsChecksum packets are accepted and may be delivered.
	Checksum bool
}

// Endpoint moves batches of IPv4 packets. ReadPackets and WritePackets may be
// called from different goroutines at once, and WritePackets from several;
// an implementation must allow that.
type Endpoint interface {
	// MTU is the largest IP packet, in bytes, that the link carries without
	// offloads.
	MTU() int
	// MaxPacketSize is the buffer capacity ReadPackets needs for one packet:
	// the MTU, or up to 65535 bytes where super-packets may arrive.
	MaxPacketSize() int
	// Offloads reports the offloads this endpoint supports.
	Offloads() Offloads
	// ReadPackets blocks until at least one packet arrives, then fills as
	// many of pkts as are ready and returns how many it filled. Each
	// pkts[i].Data must have capacity of at least MaxPacketSize(); the
	// endpoint reslices it and sets pkts[i].Offload. After Close it returns
	// ErrClosed.
	ReadPackets(pkts []Packet) (int, error)
	// WritePackets sends pkts in order and returns how many were taken. The
	// endpoint does not keep any Data after it returns: the caller may reuse
	// the buffers at once. A full link may drop packets, as a wire does; that
	// is not an error.
	WritePackets(pkts []Packet) (int, error)
	// Close releases the endpoint and unblocks ReadPackets.
	Close() error
}

// Poller is implemented by endpoints whose received packets can be taken
// without waiting, which lets more than one goroutine read the link. The
// stack's pump then waits with WaitPackets and takes packets with
// PollPackets, and a reader that busy-polls (stack.Options.BusyPoll) takes
// them itself while it waits for its own data - Linux's busy polling, where
// the socket's system call reads the device's queue (SO_BUSY_POLL,
// napi_busy_loop) - so that a request reaches its reader without a
// hand-off between goroutines. The caller serialises PollPackets calls and
// the use of what they return; WaitPackets may run meanwhile.
type Poller interface {
	// PollPackets is ReadPackets without the wait: it fills pkts with
	// packets already queued, as ReadPackets does, and returns 0 and a nil
	// error when there are none. After Close it returns ErrClosed.
	PollPackets(pkts []Packet) (int, error)
	// WaitPackets blocks until a packet may be queued: it never misses a
	// packet queued after a PollPackets call that found none, and it may
	// return when another reader has already taken the packet. After Close
	// it returns ErrClosed.
	WaitPackets() error
}

// ErrNotPollable is returned by PollPackets and WaitPackets of an endpoint
// that has the methods but cannot poll (see Pollable).
var ErrNotPollable = errors.New("link: endpoint cannot be read without waiting")

// Pollable returns ep as a Poller if it can be read without waiting: it
// implements Poller and, if it also has a CanPoll method, CanPoll reports
// true. Endpoints that wrap another (impair, the pcap tee) have Poller's
// methods whatever they wrap, and CanPoll says whether what they wrap can
// poll.
func Pollable(ep Endpoint) (Poller, bool) {
	p, ok := ep.(Poller)
	if !ok {
		return nil, false
	}
	if c, ok := ep.(interface{ CanPoll() bool }); ok && !c.CanPoll() {
		return nil, false
	}
	return p, true
}

// DropObserver is implemented by endpoints that want to hear why the stack
// threw away a packet they delivered (the pcap tee writes the reason as a
// comment on that packet). The stack calls PacketDropped on the outermost
// endpoint it was given, synchronously, before it reads the next batch, with
// the same Data slice ReadPackets filled.
type DropObserver interface {
	PacketDropped(data []byte, reason string)
}
