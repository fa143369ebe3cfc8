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

	"golang.org/x/sys/unix"

	"github.com/tundra-net/tundra/link"
)

// Options configure Open.
type Options struct {
	// MTU, if non-zero, is the MTU the endpoint reports, for a stack that
	// should send smaller packets than the device allows. It must not exceed
	// the device's MTU (read with SIOCGIFMTU), which Open otherwise uses.
	MTU int
}

// ErrOffloadUnsupported is returned by WritePackets for a packet carrying
// offload metadata, which this endpoint does not accept (Offloads reports
// none).
var ErrOffloadUnsupported = errors.New("tun: packet carries offload metadata, but the device was opened without offloads")

// Endpoint is an open TUN device. It implements link.Endpoint: one goroutine
// may read while others write.
type Endpoint struct {
	name    string
	mtu     int // what MTU reports: Options.MTU or the device's
	devMTU  int // the device's MTU, the most one read can return
	file    *os.File
	conn    syscall.RawConn
	closed  atomic.Bool
	vnetHdr bool // packets are framed by a virtio_net_hdr; always false until offloads are enabled

	// Reader state, used by readBatch inside conn.Read. Kept in the
	// Endpoint, with the callback bound once in Open, so that a read
	// allocates nothing.
	readMu   sync.Mutex
	readPkts []link.Packet
	readN    int
	readErr  error
	readFn   func(fd uintptr) bool

	// Writer state, likewise; writeMu serialises writers.
	writeMu   sync.Mutex
	writePkts []link.Packet
	writeN    int
	writeErr  error
	writeFn   func(fd uintptr) bool
}

var _ link.Endpoint = (*Endpoint)(nil)

// Open opens the TUN device called name, creating it if it does not exist,
// in the network namespace of the calling thread. An empty name lets the
// kernel choose one (tun0, tun1, ...); Name reports it. An existing
// persistent device (ip tuntap add mode tun) is attached to the same way,
// provided it was made as a TUN without packet information.
//
// Open configures no address and does not bring the interface up; that is
// the administrator's job (ip addr add, ip link set up), or netnstest's in
// tests.
func Open(name string, opts Options) (*Endpoint, error) {
	if len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("tun: interface name %q longer than %d bytes", name, unix.IFNAMSIZ-1)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("tun: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun: %w", err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EINVAL) {
			return nil, fmt.Errorf("tun: TUNSETIFF %q: %w (an existing device of that name is not a TUN without packet information)", name, err)
		}
		return nil, fmt.Errorf("tun: TUNSETIFF %q: %w", name, err)
	}
	devName := ifr.Name()
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
	// The descriptor is non-blocking, so os.NewFile registers it with the
	// runtime's poller: blocked reads park the goroutine, not a thread, and
	// Close wakes them.
	file := os.NewFile(uintptr(fd), "/dev/net/tun:"+devName)
	conn, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("tun: %w", err)
	}
	e := &Endpoint{name: devName, mtu: mtu, devMTU: devMTU, file: file, conn: conn}
	e.readFn = e.readBatch
	e.writeFn = e.writeBatch
	return e, nil
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

// MaxPacketSize returns the device's MTU: the kernel may send packets that
// large even when Options.MTU asked the stack to send smaller ones.
func (e *Endpoint) MaxPacketSize() int { return e.devMTU }

// Offloads reports none: the device is opened without IFF_VNET_HDR (see the
// package comment for how offloads will be enabled).
func (e *Endpoint) Offloads() link.Offloads { return link.Offloads{} }

// ReadPackets waits until the kernel has a packet for the device, then reads
// it and every further packet already queued, until pkts is full. Each
// pkts[i].Data must have capacity MaxPacketSize; if pkts[0].Data is smaller
// it returns io.ErrShortBuffer without reading (a TUN read would silently
// cut the packet). After Close it returns link.ErrClosed.
func (e *Endpoint) ReadPackets(pkts []link.Packet) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	if cap(pkts[0].Data) < e.devMTU {
		return 0, io.ErrShortBuffer
	}
	e.readMu.Lock()
	defer e.readMu.Unlock()
	e.readPkts, e.readN, e.readErr = pkts, 0, nil
	err := e.conn.Read(e.readFn)
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

// readBatch runs inside conn.Read with the descriptor. Returning false asks
// the poller to wait for readability and call it again.
func (e *Endpoint) readBatch(fd uintptr) bool {
	for e.readN < len(e.readPkts) {
		p := &e.readPkts[e.readN]
		if cap(p.Data) < e.devMTU {
			return true // the rest of the batch has no room; stop here
		}
		buf := p.Data[:cap(p.Data)]
		n, err := unix.Read(int(fd), buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return e.readN > 0
		case err != nil:
			e.readErr = err
			return true
		}
		p.Data = buf[:n]
		p.Offload = link.Offload{}
		e.readN++
	}
	return true
}

// WritePackets writes each packet to the device with its own write(2), in
// order, waiting through the poller while the kernel's queue is full. It
// returns how many packets were written and the first error, if any; after
// Close, link.ErrClosed.
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
		if p.Offload != (link.Offload{}) {
			e.writeErr = ErrOffloadUnsupported
			return true
		}
		_, err := unix.Write(int(fd), p.Data)
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
