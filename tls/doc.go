// Package tls puts TLS on tundra's sockets, and on any other net.Conn.
//
// All cryptography is done by Go's crypto/tls (imported here as cryptotls);
// this package never implements a cipher, a key exchange or a signature. Its
// job is the layer around it: safe defaults, certificates for a test
// network, clear errors when a certificate is refused, and the teaching aids
// (a key log for Wireshark and a handshake trace) that let you watch what
// happens. It knows only net.Conn and net.Listener, so it works the same on
// the kernel's TCP, on net.Pipe and on tundra's own stack.
//
// # On tundra's stack
//
// The stack's sockets are ordinary net.Conn and net.Listener values, so:
//
//	inner, _ := st.Listen("tcp", "198.18.0.1:443")
//	ln, _ := tls.NewListener(inner, &tls.Config{Certificates: certs})
//
//	d := &tls.Dialer{NetDialContext: st.DialContext, Config: &tls.Config{RootCAs: pool}}
//	conn, err := d.DialContext(ctx, "tcp", "198.18.0.1:443")
//
// Package tls/https does the same for tundra's HTTP server and client.
// The example program examples/tlsecho runs TLS between two stacks in
// memory and prints each handshake.
//
// # Defaults
//
// A Config with only certificates filled in negotiates TLS 1.3 when the peer
// can, and TLS 1.2 at the least. TLS 1.2 is limited to ECDHE key exchange
// with AEAD ciphers (AES-GCM, ChaCha20-Poly1305); TLS 1.3 only has such
// suites. Servers issue session tickets and clients keep a session cache, so
// a second connection resumes without certificates or signatures. ALPN
// offers "http/1.1".
//
// # The TLS 1.3 handshake, in order (RFC 8446 section 2)
//
//	Client                                           Server
//	ClientHello        -------->
//	  + key_share, supported_versions,
//	    server_name (SNI), ALPN, signature_algorithms
//	                                                 ServerHello
//	                                                   + key_share
//	                                        {EncryptedExtensions}  (ALPN)
//	                                        {CertificateRequest}   (mutual TLS only)
//	                                        {Certificate}
//	                                        {CertificateVerify}
//	                   <--------            {Finished}
//	{Certificate}       (mutual TLS only)
//	{CertificateVerify} (mutual TLS only)
//	{Finished}         -------->
//	[Application Data] <------->            [Application Data]
//
// Messages in braces are encrypted with the handshake keys, those in
// brackets with the application keys. Step by step:
//
//  1. ClientHello (section 4.1.2): the client lists the versions it speaks
//     (supported_versions), its cipher suites, the groups it can do a
//     Diffie-Hellman exchange in (supported_groups), and already sends a
//     key share for one or more of them, so the exchange finishes in one
//     round trip. It names the server it wants (SNI, section 3 of RFC 6066)
//     and the application protocols it speaks (ALPN, RFC 7301).
//  2. ServerHello (section 4.1.3): the server picks a version, a suite and
//     a group and sends its own key share. Both sides now compute the same
//     shared secret; everything after this point is encrypted.
//  3. EncryptedExtensions (section 4.3.1) carries the rest of the server's
//     answers, such as the chosen ALPN protocol.
//  4. Certificate and CertificateVerify (sections 4.4.2, 4.4.3): the server
//     sends its certificate chain and a signature over the handshake so far
//     with the certificate's key, proving that it holds the key. The client
//     checks the chain up to a CA it trusts, the validity dates and that the
//     certificate names the server it asked for.
//  5. Finished (section 4.4.4): a MAC over the whole handshake, which
//     proves that nobody changed a message on the way.
//  6. For mutual TLS the server adds a CertificateRequest (section 4.3.2) and
//     the client answers with its own Certificate and CertificateVerify.
//  7. After the handshake the server may send NewSessionTicket (section
//     4.6.1). A later connection presents the ticket as a pre-shared key
//     (section 2.2) and skips the certificates: a resumed handshake.
//
// TLS 1.2 (RFC 5246) takes one more round trip: the key exchange messages
// follow the hellos, and only the Finished messages are encrypted.
//
// # Watching it
//
// Set Config.Trace to a Trace to get each step printed, or delivered as
// events, for every connection. Set Config.KeyLogWriter (OpenKeyLog,
// KeyLogFromEnv) to write the session secrets in the SSLKEYLOGFILE format;
// Wireshark reads that file and shows a capture decrypted. A key log
// defeats all of TLS's protection: use it only on test traffic.
package tls
