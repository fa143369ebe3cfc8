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
// IPv4 packet (or super-packet, see Offloads below) and each write sends
// one. The descriptor is non-blocking and
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
// # Offloads
//
// Linux can hand a TUN reader TCP super-packets of up to 64 KiB and accept
// them from a writer, cutting them into MTU-sized segments itself, and can
// leave transport checksums to the other side. A userspace stack gains
// several times its throughput from this (Tailscale measured 2.15 to 10.8
// Gbit/s), because its per-packet costs are paid once per 64 KiB. The
// mechanism is IFF_VNET_HDR: every packet read or written is preceded by a
// 10-byte struct virtio_net_hdr (include/uapi/linux/virtio_net.h) saying
// whether it is a super-packet (gso_type, gso_size, hdr_len) and whether
// its checksum is partial (flags, csum_start, csum_offset).
//
// Open asks for it by default: IFF_VNET_HDR, TUNSETVNETHDRSZ 10, and
// TUNSETOFFLOAD with TUN_F_CSUM|TUN_F_TSO4 (and TUN_F_USO4 with
// Options.UDPSegmentation). If the kernel refuses any step, Open reopens
// the device without them; Options.DisableOffloads skips the attempt. With
// offloads, MaxPacketSize is 65535 and Offloads reports TSO4 and Checksum.
// ReadPackets reads each frame with one readv(2), the header into the
// Endpoint and the packet into the caller's buffer, and turns the header
// into link.Offload; WritePackets writes header and packet with one
// writev(2). Neither copies the packet nor allocates. link.Offload mirrors
// the header field for field (decodeVnetHdr and encodeVnetHdr translate).
//
// Package gso does the same work in software: gso.Split cuts a
// super-packet into segments for an endpoint without TSO, and
// gso.SetPartialChecksum and gso.CompleteChecksum prepare and finish
// partial checksums. wireguard-go (tun/offload_linux.go) and gVisor
// (pkg/tcpip/link/fdbased) take the same route.
package tun
