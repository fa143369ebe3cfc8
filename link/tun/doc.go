// Package tun moves packets between the stack and a Linux TUN device.
//
// A TUN device is a network interface whose "wire" is a file descriptor:
// every IP packet the kernel routes to the interface can be read from the
// descriptor, and every packet written to it is received by the kernel as if
// it had arrived on the interface. It is how a userspace stack such as
// tundra meets real programs (ping, curl, the kernel's own TCP) on the same
// machine.
//
// Open creates the device (or attaches to an existing persistent one) with
// IFF_TUN|IFF_NO_PI through /dev/net/tun, so each read returns exactly one
// IPv4 packet and each write sends one. The descriptor is non-blocking and
// registered with Go's network poller (os.NewFile and SyscallConn), so a
// blocked ReadPackets costs no thread and Close unblocks it. ReadPackets
// waits for the first packet, then keeps reading without blocking until the
// kernel's queue is empty or the batch is full; under load one wake-up
// delivers many packets. WritePackets writes one packet per write(2) and, if
// the kernel's queue is full (EAGAIN), waits for writability through the
// poller instead of spinning.
//
// OpenWater is the plain portable alternative through
// github.com/songgao/water: one packet per read and write, no batching, no
// offloads. It is useful to compare against and on systems where the direct
// path is not wanted.
//
// # Offloads (not yet enabled)
//
// Linux can hand a TUN reader TCP super-packets of up to 64 KiB (GRO) and
// accept them from a writer (TSO), cutting them into MTU-sized segments
// itself, and can leave transport checksums to the other side. A userspace
// stack gains several times its throughput from this (Tailscale measured
// 2.15 to 10.8 Gbit/s). The mechanism is IFF_VNET_HDR: the device is opened
// with that flag, TUNSETOFFLOAD enables TUN_F_CSUM, TUN_F_TSO4 (and
// TUN_F_USO4), and every packet read or written is then preceded by a
// 10-byte struct virtio_net_hdr (include/uapi/linux/virtio_net.h) saying
// whether it is a super-packet (gso_type, gso_size, hdr_len) and whether its
// checksum is partial (flags, csum_start, csum_offset).
//
// link.Offload mirrors that header field for field, and this package
// already has the pure translation both ways (decodeVnetHdr and
// encodeVnetHdr, with unit tests). What remains, for the issue that turns
// offloads on:
//
//   - Open with IFF_VNET_HDR, then TUNSETVNETHDRSZ 10 and TUNSETOFFLOAD;
//     set Endpoint.vnetHdr.
//   - ReadPackets: read each frame into a buffer 10 bytes larger, decode the
//     header into Packet.Offload and reslice Data past it (or readv with two
//     iovecs); MaxPacketSize becomes 65535 and Offloads reports TSO4 and
//     Checksum.
//   - WritePackets: encode Packet.Offload in the 10 bytes before the packet
//     (writev, or a headroom convention with the stack) and write both at
//     once.
//
// wireguard-go (tun/tun_linux.go, tun/offload_linux.go) and gVisor
// (pkg/tcpip/link/fdbased) take the same route; both also coalesce and split
// in userspace when the peer cannot, which tundra leaves to the stack.
package tun
