package tun

import (
	"fmt"
	"net"
	"net/netip"
)

// CheckStackAddress returns an error if addr, meant for a userspace stack
// on the TUN device name, is an address the kernel's side of that device
// already has. The two ends of a TUN are two hosts on one link, and giving
// both the same address is the most common setup mistake: packets the
// kernel sends to "the stack" then never leave the kernel. A device that
// does not exist (yet) passes.
func CheckStackAddress(name string, addr netip.Addr) error {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil
	}
	kernelAddrs, _ := ifi.Addrs()
	for _, ka := range kernelAddrs {
		if p, err := netip.ParsePrefix(ka.String()); err == nil && p.Addr() == addr {
			return fmt.Errorf("tun: %v is the kernel's own address on %s; give the stack another address on that subnet (the kernel side and the stack are two hosts on one link)", addr, name)
		}
	}
	return nil
}
