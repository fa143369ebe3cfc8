//go:build linux

package tun

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tundra-net/tundra/link"
)

// Options configure Open.
type Options struct {
	// MTU, if non-zero, is the MTU the endpoint reports, for a stack that
	// should send smaller packets than the device allows. It must not exceed
	// the device's MTU (read with SIOCGIFMTU), which Open otherwise uses.
	MTU int
	// DisableOffloads opens the device without IFF_VNET_HDR: every packet
	// read or written is a plain IPv4 packet of at most the MTU, and
	// Offloads reports none. By default Open asks for TCP segmentation
	// (TUN_F_TSO4) and checksum offload (TUN_F_CSUM), and falls back to
	// plain packets by itself when the kernel or the device refuses.
	DisableOffloads bool
	// UDPSegmentation also asks for UDP segmentation offload (TUN_F_USO4,
	// Linux 6.2 and later): the kernel may then deliver UDP super-packets
	// (GSOUDPL4) from sockets that use UDP_SEGMENT, so only a consumer
	// that splits them (gso.Split) should ask. Where the kernel lacks it,
	// Open goes on with TSO and checksums alone. Ignored with
	// DisableOffloads.
	UDPSegmentation bool
}

// maxSuperPacket is the largest IPv4 packet, and so the largest TCP or UDP
// super-packet a TUN with offloads delivers: the 16-bit total length of RFC
// 791 section 3.1. (Linux's BIG TCP for IPv4 exceeds it only when an
// administrator raises the device's gso_ipv4_max_size, which tundra does
// not do.)
const maxSuperPacket = 65535

// ErrOffloadUnsupported is returned by WritePackets for a packet carrying
// offload metadata, which this endpoint does not accept (Offloads reports
// none).
var ErrOffloadUnsupported = errors.New("tun: packet carries offload metadata, but the device was opened without offloads")

// Endpoint is an open TUN device. It implements link.Endpoint: one goroutine
// may read while others write.
type Endpoint struct {
	name   string
	mtu    int // what MTU reports: Options.MTU or the device's
	devMTU int // the device's MTU, the most one read can return
	file   *os.File
	conn   syscall.RawConn
	closed atomic.Bool

	// vnetHdr says every packet on the descriptor is preceded by a
	// virtio_net_hdr (IFF_VNET_HDR); offloads is what TUNSETOFFLOAD
	// enabled, and maxPacket the buffer a read needs: the device MTU
	// without offloads, maxSuperPacket with TSO.
	vnetHdr   bool
	offloads  link.Offloads
	maxPacket int

	// Reader state, used by readBatch inside conn.Read. Kept in the
	// Endpoint, with the callback bound once in Open, so that a read
	// allocates nothing.
	readMu        sync.Mutex
	readPkts      []link.Packet
	readN         int
	readErr       error
	readControlFn func(fd uintptr)
	readHdr       [vnetHdrLen]byte
	readIov       [2]unix.Iovec

	// WaitPackets' state: waitFn is waitReady, bound once.
	waitMu    sync.Mutex
	waitAsked bool
	waitFn    func(fd uintptr) bool

	// Writer state, likewise; writeMu serialises writers.
	writeMu   sync.Mutex
	writePkts []link.Packet
	writeN    int
	writeErr  error
	writeFn   func(fd uintptr) bool
	writeHdr  [vnetHdrLen]byte
	writeIov  [2]unix.Iovec
}

var (
	_ link.Endpoint = (*Endpoint)(nil)
	_ link.Poller   = (*Endpoint)(nil)
)

// Open opens the TUN device called name, creating it if it does not exist,
// in the network namespace of the calling thread. An empty name lets the
// kernel choose one (tun0, tun1, ...); Name reports it. An existing
// persistent device (ip tuntap add mode tun) is attached to the same way,
// provided it was made as a TUN without packet information.
//
// Unless opts.DisableOffloads is set, Open asks for IFF_VNET_HDR and
// enables TCP segmentation and checksum offload with TUNSETOFFLOAD; if any
// step is refused it closes the descriptor and opens the device again
// without them, so the result is always usable. Offloads reports which way
// it went.
//
// Open configures no address and does not bring the interface up; that is
// the administrator's job (ip addr add, ip link set up), or netnstest's in
// tests.
func Open(name string, opts Options) (*Endpoint, error) {
	if len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("tun: interface name %q longer than %d bytes", name, unix.IFNAMSIZ-1)
	}
	var (
		fd       int
		devName  string
		offloads link.Offloads
		err      error
	)
	if !opts.DisableOffloads {
		fd, devName, offloads, err = openWithOffloads(name, opts.UDPSegmentation)
	}
	if opts.DisableOffloads || err != nil {
		// The fallback, and the only way with DisableOffloads: plain
		// packets, no header in front of them.
		offloads = link.Offloads{}
		fd, devName, err = openDevice(name, 0)
		if err != nil {
			return nil, err
		}
	}
	vnetHdr := !opts.DisableOffloads && offloads != (link.Offloads{})
	devMTU, err := deviceMTU(devName)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	mtu := devMTU
	if opts.MTU != 0 {
		if opts.MTU < 68 || opts.MTU > devMTU {
			unix.Close(fd)
			return nil, fmt.Errorf("tun: Options.MTU %d must be between 68 (RFC 791) and the device MTU %d", opts.MTU, devMTU)
		}
		mtu = opts.MTU
	}
	maxPacket := devMTU
	if offloads.TSO4 || offloads.USO4 {
		maxPacket = maxSuperPacket
	}
	// The descriptor is non-blocking, so os.NewFile registers it with the
	// runtime's poller: blocked reads park the goroutine, not a thread, and
	// Close wakes them.
	file := os.NewFile(uintptr(fd), "/dev/net/tun:"+devName)
	conn, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("tun: %w", err)
	}
	e := &Endpoint{
		name: devName, mtu: mtu, devMTU: devMTU, file: file, conn: conn,
		vnetHdr: vnetHdr, offloads: offloads, maxPacket: maxPacket,
	}
	e.readControlFn = e.readBatch
	e.waitFn = e.waitReady
	e.writeFn = e.writeBatch
	return e, nil
}

// openDevice opens /dev/net/tun and attaches it to the TUN device called
// name with IFF_TUN|IFF_NO_PI and the extra flags, returning the descriptor
// and the device's name.
func openDevice(name string, flags uint16) (int, string, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, "", fmt.Errorf("tun: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, "", fmt.Errorf("tun: %w", err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EINVAL) {
			return -1, "", fmt.Errorf("tun: TUNSETIFF %q: %w (an existing device of that name is not a TUN without packet information)", name, err)
		}
		return -1, "", fmt.Errorf("tun: TUNSETIFF %q: %w", name, err)
	}
	return fd, ifr.Name(), nil
}

// setOffload is the TUNSETOFFLOAD ioctl. Tests replace it to see Open
// fall back as it does on kernels that refuse.
var setOffload = func(fd, flags int) error {
	return unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, flags)
}

// openWithOffloads opens the device with IFF_VNET_HDR, sets the header size
// to the 10 bytes of struct virtio_net_hdr (TUNSETVNETHDRSZ; the kernel's
// default, set anyway so an earlier user of a persistent device cannot
// have changed it) and enables offloads with TUNSETOFFLOAD. The flags say
// what the kernel may hand us (drivers/net/tun.c, set_offload):
// TUN_F_CSUM lets it leave checksums partial, TUN_F_TSO4 lets it send TCP
// super-packets, TUN_F_USO4 (with TUN_F_USO6) UDP ones. Writing
// super-packets needs no flag, only the header; but the two directions are
// enabled together, since a kernel that refuses TSO4 is too old to trust
// with either. A kernel without USO (before 6.2) answers EINVAL, and the
// call is repeated without it.
func openWithOffloads(name string, uso bool) (int, string, link.Offloads, error) {
	fd, devName, err := openDevice(name, unix.IFF_VNET_HDR)
	if err != nil {
		return -1, "", link.Offloads{}, err
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, vnetHdrLen); err != nil {
		unix.Close(fd)
		return -1, "", link.Offloads{}, fmt.Errorf("tun: TUNSETVNETHDRSZ: %w", err)
	}
	offloads := link.Offloads{Checksum: true, TSO4: true}
	flags := unix.TUN_F_CSUM | unix.TUN_F_TSO4
	// The kernel takes USO only for both IP versions at once (set_offload
	// refuses TUN_F_USO4 without TUN_F_USO6); IPv6 is off on tundra's
	// devices, and the stack drops IPv6 packets anyway.
	if uso && setOffload(fd, flags|unix.TUN_F_USO4|unix.TUN_F_USO6) == nil {
		offloads.USO4 = true
	} else if err := setOffload(fd, flags); err != nil {
		unix.Close(fd)
		return -1, "", link.Offloads{}, fmt.Errorf("tun: TUNSETOFFLOAD: %w", err)
	}
	return fd, devName, offloads, nil
}

// deviceMTU asks the kernel for an interface's MTU (SIOCGIFMTU) through a
// datagram socket in the calling thread's network namespace.
func deviceMTU(name string) (int, error) {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("tun: socket for SIOCGIFMTU: %w", err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, fmt.Errorf("tun: %w", err)
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFMTU, ifr); err != nil {
		return 0, fmt.Errorf("tun: SIOCGIFMTU %q: %w", name, err)
	}
	return int(ifr.Uint32()), nil
}

// Name returns the interface's name.
func (e *Endpoint) Name() string { return e.name }

// MTU returns Options.MTU if it was given, else the device's MTU.
func (e *Endpoint) MTU() int { return e.mtu }

// MaxPacketSize returns the buffer one read needs: 65535 bytes when TSO is
// on (the kernel hands over TCP super-packets of up to 64 KiB), else the
// device's MTU, since the kernel may send packets that large even when
// Options.MTU asked the stack to send smaller ones.
func (e *Endpoint) MaxPacketSize() int { return e.maxPacket }

// Offloads reports what TUNSETOFFLOAD enabled: TSO4 and Checksum by
// default (and USO4 when asked for and available), nothing when the device
// was opened without IFF_VNET_HDR.
func (e *Endpoint) Offloads() link.Offloads { return e.offloads }

// ReadPackets waits until the kernel has a packet for the device, then reads
// it and every further packet already queued, until pkts is full. Each
// pkts[i].Data must have capacity MaxPacketSize; if pkts[0].Data is smaller
// it returns io.ErrShortBuffer without reading (a TUN read would silently
// cut the packet). After Close it returns link.ErrClosed. It is PollPackets
// and WaitPackets in a loop, so other goroutines may poll meanwhile.
//
// With offloads, each packet's virtio_net_hdr becomes its Offload: a TCP
// super-packet has GSOType GSOTCPv4 and GSOSize the sender's MSS, to be
// taken as one large segment. A packet whose checksum the kernel left
// partial (NeedsChecksum, with the pseudo-header sum in the checksum
// field, as Linux's CHECKSUM_PARTIAL) is also marked ChecksumValid: it
// never left the machine's memory, so there is nothing to verify, which is
// how Linux itself treats CHECKSUM_PARTIAL on receive
// (skb_csum_unnecessary). A consumer that passes such a packet on, or
// wants the checksum on the wire (a capture), completes it with
// gso.CompleteChecksum. A frame whose header does not decode (a GSO type
// this package does not know) is dropped and reading goes on.
func (e *Endpoint) ReadPackets(pkts []link.Packet) (int, error) {
	for {
		n, err := e.PollPackets(pkts)
		if n > 0 || err != nil || len(pkts) == 0 {
			return n, err
		}
		if err := e.WaitPackets(); err != nil {
			return 0, err
		}
	}
}

// PollPackets reads the packets the kernel has already queued for the
// device, until pkts is full, and returns 0 and a nil error when there are
// none; it never waits (link.Poller). Buffers and offloads are as for
// ReadPackets. Concurrent calls are serialised.
func (e *Endpoint) PollPackets(pkts []link.Packet) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	if cap(pkts[0].Data) < e.maxPacket {
		return 0, io.ErrShortBuffer
	}
	e.readMu.Lock()
	defer e.readMu.Unlock()
	e.readPkts, e.readN, e.readErr = pkts, 0, nil
	err := e.conn.Control(e.readControlFn)
	n := e.readN
	if err == nil && n == 0 {
		err = e.readErr
	}
	e.readPkts, e.readErr = nil, nil
	if n > 0 {
		// An error after some packets were read comes back on the next
		// call, which will meet it again.
		return n, nil
	}
	return 0, e.mapErr(err)
}

// WaitPackets blocks until the device may have a packet to read
// (link.Poller). The runtime's poller reports each packet the kernel
// queues; but it forgets a report it holds when a wait begins, so after
// that reset the descriptor is asked directly (poll(2) with no timeout),
// and a packet queued since the last PollPackets is not missed.
func (e *Endpoint) WaitPackets() error {
	e.waitMu.Lock()
	defer e.waitMu.Unlock()
	e.waitAsked = false
	return e.mapErr(e.conn.Read(e.waitFn))
}

// waitReady runs inside conn.Read: its first call, right after the
// poller's reset, asks the descriptor; later calls come after the poller
// saw it become readable.
func (e *Endpoint) waitReady(fd uintptr) bool {
	if e.waitAsked {
		return true
	}
	e.waitAsked = true
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds[:], 0)
		if err == unix.EINTR {
			continue
		}
		// An error (a closed device) counts as ready: the read that follows
		// reports it.
		return err != nil || n > 0
	}
}

// readBatch reads packets from the descriptor into e.readPkts until it is
// full or the kernel's queue is empty. It runs inside conn.Control, which
// does not wait.
func (e *Endpoint) readBatch(fd uintptr) {
	for e.readN < len(e.readPkts) {
		p := &e.readPkts[e.readN]
		if cap(p.Data) < e.maxPacket {
			return // the rest of the batch has no room; stop here
		}
		buf := p.Data[:cap(p.Data)]
		var n int
		var err error
		if e.vnetHdr {
			n, err = e.readv(fd, buf)
		} else {
			n, err = unix.Read(int(fd), buf)
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return
		case err != nil:
			e.readErr = err
			return
		}
		p.Offload = link.Offload{}
		if e.vnetHdr {
			if n < vnetHdrLen {
				continue // cannot happen with a 10-byte header size; skip it
			}
			off, err := decodeVnetHdr(e.readHdr[:])
			if err != nil {
				continue // a GSO type we do not handle (TCPv6, UFO): drop it
			}
			if off.NeedsChecksum {
				off.ChecksumValid = true
			}
			p.Offload = off
			n -= vnetHdrLen
		}
		p.Data = buf[:n]
		e.readN++
	}
}

// readv reads one frame: the virtio_net_hdr into e.readHdr and the packet
// into buf, with one readv(2). It returns the frame's length, header
// included. The iovecs live in the Endpoint, so the call allocates nothing.
func (e *Endpoint) readv(fd uintptr, buf []byte) (int, error) {
	e.readIov[0].Base = &e.readHdr[0]
	e.readIov[0].SetLen(vnetHdrLen)
	e.readIov[1].Base = unsafe.SliceData(buf)
	e.readIov[1].SetLen(len(buf))
	n, _, errno := unix.Syscall(unix.SYS_READV, fd, uintptr(unsafe.Pointer(&e.readIov[0])), 2)
	e.readIov[1].Base = nil // do not keep the caller's buffer alive
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// WritePackets writes each packet to the device with its own write(2), in
// order, waiting through the poller while the kernel's queue is full. It
// returns how many packets were written and the first error, if any; after
// Close, link.ErrClosed.
//
// With offloads, each packet goes out with a virtio_net_hdr made from its
// Offload (writev(2) of header and packet, so no copy): a GSOTCPv4
// super-packet is cut by the kernel into segments of GSOSize payload bytes;
// a NeedsChecksum packet has its checksum completed by the kernel, and must
// carry the pseudo-header sum in its checksum field (gso.SetPartialChecksum
// prepares both); a plain packet gets a zero header. Without offloads a
// packet carrying offload metadata is refused with ErrOffloadUnsupported
// (gso.Split and gso.CompleteChecksum turn such packets into plain ones).
func (e *Endpoint) WritePackets(pkts []link.Packet) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	e.writePkts, e.writeN, e.writeErr = pkts, 0, nil
	err := e.conn.Write(e.writeFn)
	n := e.writeN
	if err == nil {
		err = e.writeErr
	}
	e.writePkts, e.writeErr = nil, nil
	return n, e.mapErr(err)
}

// writeBatch runs inside conn.Write; returning false waits for writability
// and resumes at the first packet not yet written.
func (e *Endpoint) writeBatch(fd uintptr) bool {
	for e.writeN < len(e.writePkts) {
		p := &e.writePkts[e.writeN]
		var err error
		if e.vnetHdr {
			if err := encodeVnetHdr(e.writeHdr[:], p.Data, p.Offload); err != nil {
				e.writeErr = fmt.Errorf("tun: packet %d: %w", e.writeN, err)
				return true
			}
			err = e.writev(fd, p.Data)
		} else {
			if p.Offload != (link.Offload{}) {
				e.writeErr = ErrOffloadUnsupported
				return true
			}
			_, err = unix.Write(int(fd), p.Data)
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false
		case err != nil:
			e.writeErr = fmt.Errorf("tun: write: %w", err)
			return true
		}
		e.writeN++
	}
	return true
}

// writev writes e.writeHdr and pkt as one frame with one writev(2).
func (e *Endpoint) writev(fd uintptr, pkt []byte) error {
	e.writeIov[0].Base = &e.writeHdr[0]
	e.writeIov[0].SetLen(vnetHdrLen)
	e.writeIov[1].Base = unsafe.SliceData(pkt)
	e.writeIov[1].SetLen(len(pkt))
	_, _, errno := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&e.writeIov[0])), 2)
	e.writeIov[1].Base = nil
	if errno != 0 {
		return errno
	}
	return nil
}

// mapErr turns the poller's "file closed" into link.ErrClosed.
func (e *Endpoint) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if e.closed.Load() || errors.Is(err, os.ErrClosed) {
		return link.ErrClosed
	}
	return err
}

// Close closes the descriptor, which wakes a blocked ReadPackets with
// link.ErrClosed. A device Open created disappears with it; a persistent one
// stays. Close is idempotent.
func (e *Endpoint) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	return e.file.Close()
}
