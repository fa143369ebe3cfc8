package main

import (
	"fmt"
	"net/netip"

	"github.com/tundra-net/tundra/stack"
)

// attachStack starts a tundra stack on the existing TUN device tunName,
// answering as addr, the way `tundra serve` does. The device must already
// exist and carry the kernel side's address, e.g.
//
//	ip tuntap add dev tun0 mode tun
//	ip addr add 198.18.0.1/24 dev tun0
//	ip link set tun0 up
//
// addr is the stack's own address on that subnet (198.18.0.2 here), not the
// kernel's: the two ends of a TUN are two hosts on one link. mtu 0 means
// the device's MTU.
func attachStack(tunName, addr string, mtu int) (*stack.Stack, error) {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is4() {
		return nil, fmt.Errorf("-addr %q is not an IPv4 address", addr)
	}
	return stack.AttachTUN(tunName, mtu, stack.Options{Addresses: []netip.Addr{a}})
}
