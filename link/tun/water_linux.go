//go:build linux

package tun

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/songgao/water"

	"github.com/tundra-net/tundra/link"
)

// WaterEndpoint is a TUN device opened through github.com/songgao/water: one
// packet per read(2) and per write(2), no batching and no offloads. It
// implements link.Endpoint; one goroutine may read while others write.
type WaterEndpoint struct {
	ifce   *water.Interface
	mtu    int
	closed atomic.Bool
}

var _ link.Endpoint = (*WaterEndpoint)(nil)

// OpenWater opens (or creates) the TUN device name through
// github.com/songgao/water, in the calling thread's network namespace. If
// mtu is zero the device's MTU is used; otherwise it must not exceed it.
func OpenWater(name string, mtu int) (*WaterEndpoint, error) {
	ifce, err := water.New(water.Config{
		DeviceType:             water.TUN,
		PlatformSpecificParams: water.PlatformSpecificParams{Name: name},
	})
	if err != nil {
		return nil, fmt.Errorf("tun: water: %w", err)
	}
	devMTU, err := deviceMTU(ifce.Name())
	if err != nil {
		ifce.Close()
		return nil, err
	}
	if mtu == 0 {
		mtu = devMTU
	} else if mtu < 68 || mtu > devMTU {
		ifce.Close()
		return nil, fmt.Errorf("tun: MTU %d must be between 68 (RFC 791) and the device MTU %d", mtu, devMTU)
	}
	return &WaterEndpoint{ifce: ifce, mtu: mtu}, nil
}

// Name returns the interface's name.
func (e *WaterEndpoint) Name() string { return e.ifce.Name() }

// MTU returns the MTU given to OpenWater, or the device's.
func (e *WaterEndpoint) MTU() int { return e.mtu }

// MaxPacketSize returns the MTU.
func (e *WaterEndpoint) MaxPacketSize() int { return e.mtu }

// Offloads reports none.
func (e *WaterEndpoint) Offloads() link.Offloads { return link.Offloads{} }

// ReadPackets blocks until one packet arrives and returns it in pkts[0]: the
// water interface reads one packet per call. pkts[0].Data needs capacity
// MaxPacketSize, else io.ErrShortBuffer. After Close it returns
// link.ErrClosed.
func (e *WaterEndpoint) ReadPackets(pkts []link.Packet) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	if cap(pkts[0].Data) < e.mtu {
		return 0, io.ErrShortBuffer
	}
	buf := pkts[0].Data[:cap(pkts[0].Data)]
	n, err := e.ifce.Read(buf)
	if err != nil {
		return 0, e.mapErr(err)
	}
	pkts[0].Data = buf[:n]
	pkts[0].Offload = link.Offload{}
	return 1, nil
}

// WritePackets writes each packet with its own write(2), in order.
func (e *WaterEndpoint) WritePackets(pkts []link.Packet) (int, error) {
	for i := range pkts {
		if pkts[i].Offload != (link.Offload{}) {
			return i, ErrOffloadUnsupported
		}
		if _, err := e.ifce.Write(pkts[i].Data); err != nil {
			return i, e.mapErr(err)
		}
	}
	return len(pkts), nil
}

func (e *WaterEndpoint) mapErr(err error) error {
	if e.closed.Load() || errors.Is(err, os.ErrClosed) {
		return link.ErrClosed
	}
	return fmt.Errorf("tun: water: %w", err)
}

// Close closes the device, unblocking ReadPackets with link.ErrClosed. Close
// is idempotent.
func (e *WaterEndpoint) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	return e.ifce.Close()
}
