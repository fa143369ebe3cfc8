package stack

import (
	"github.com/tundra-net/tundra/link/tun"
)

// AttachTUN starts a stack on the existing Linux TUN device name, as
// `tundra serve` does: it refuses an address the kernel's side of the
// device already has (tun.CheckStackAddress), opens the device with tun's
// defaults (offloads on where the kernel has them) and an MTU of mtu (0:
// the device's), and calls New. The device must exist and carry the
// kernel side's address, e.g.
//
//	ip tuntap add dev tun0 mode tun
//	ip addr add 198.18.0.1/24 dev tun0
//	ip link set tun0 up
//
// with opts.Addresses holding the stack's own address, such as 198.18.0.2.
func AttachTUN(name string, mtu int, opts Options) (*Stack, error) {
	for _, a := range opts.Addresses {
		if err := tun.CheckStackAddress(name, a); err != nil {
			return nil, err
		}
	}
	ep, err := tun.Open(name, tun.Options{MTU: mtu})
	if err != nil {
		return nil, err
	}
	st, err := New(ep, opts)
	if err != nil {
		ep.Close()
		return nil, err
	}
	return st, nil
}
