// Package attack is tundra's hostile-input suite: tests that attack a
// running stack from the kernel side of a real TUN, inside a network
// namespace each test makes and deletes, and check that the stack stays up,
// keeps serving, and gives back every goroutine, connection and byte it
// took once the attack ends.
//
// The attacks are those a host on any network meets: port and OS scans
// (nmap SYN, FIN, NULL, Xmas, ACK and -O), a SYN flood (hping3) while real
// clients connect, packets with bad checksums, impossible flag
// combinations, malformed TCP options, tiny and overlapping fragments and
// data outside the window (built here in Go and written from a raw socket
// in the namespace), connections past every cap, slowloris and oversized
// heads against the HTTP server, garbage in TLS handshakes, and a soak run
// mixing bulk transfers, short connections and HTTP under loss. Each is
// bounded in packet count and time, and sends only to the stack's address
// 198.18.0.2 in a namespace with no route out.
//
// The tests need root (namespaces and TUN devices) and skip without it;
// nmap and hping3 tests skip with the Debian package to install when the
// tool is missing. docs/security.md lists every limit the stack enforces
// and what these tests showed.
//
// The package has no API: it is only tests and their helpers.
package attack
