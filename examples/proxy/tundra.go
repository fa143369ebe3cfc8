package main

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/tundra-net/tundra/link/tun"
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
	if ifi, err := net.InterfaceByName(tunName); err == nil {
		kernelAddrs, _ := ifi.Addrs()
		for _, ka := range kernelAddrs {
			if p, err := netip.ParsePrefix(ka.String()); err == nil && p.Addr() == a {
				return nil, fmt.Errorf("%v is the kernel's own address on %s; give the stack another address on that subnet", a, tunName)
			}
		}
	}
	ep, err := tun.Open(tunName, tun.Options{MTU: mtu})
	if err != nil {
		return nil, err
	}
	st, err := stack.New(ep, stack.Options{Addresses: []netip.Addr{a}})
	if err != nil {
		ep.Close()
		return nil, err
	}
	return st, nil
}
