package tls_test

import (
	"bufio"
	"context"
	cryptotls "crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tundra-net/tundra/tls"
)

// A test network's certificates: a CA, and a server certificate it signs
// for the names clients will use. ca.pem is what clients trust:
// curl --cacert ca.pem https://localhost:8443/ works with these files.
func ExampleNewCA() {
	dir, err := os.MkdirTemp("", "pki")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ca, err := tls.NewCA("tundra classroom CA")
	if err != nil {
		log.Fatal(err)
	}
	server, err := ca.IssueServer("localhost", "127.0.0.1", "198.18.0.1")
	if err != nil {
		log.Fatal(err)
	}
	client, err := ca.IssueClient("student-1") // for mutual TLS
	if err != nil {
		log.Fatal(err)
	}
	ca.WriteFiles(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"))
	server.WriteFiles(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
	client.WriteFiles(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem"))

	// A server loads its pair back with LoadKeyPair, a client the CA with
	// LoadCertPool.
	pair, err := tls.LoadKeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
	if err != nil {
		log.Fatal(err)
	}
	info := tls.DescribeCertificate(pair.Leaf)
	fmt.Println(info.Subject, "signed by", ca.Cert.Subject.CommonName)
	fmt.Println("names:", info.DNSNames, info.IPAddresses)
	fmt.Println("key:", info.KeyType)
	// Output:
	// CN=localhost signed by tundra classroom CA
	// names: [localhost] [127.0.0.1 198.18.0.1]
	// key: ECDSA P-256
}

// exampleCA makes the CA and server certificate the other examples use.
func exampleCA() (*tls.CA, *tls.Issued) {
	ca, err := tls.NewCA("example CA")
	if err != nil {
		log.Fatal(err)
	}
	server, err := ca.IssueServer("localhost", "127.0.0.1")
	if err != nil {
		log.Fatal(err)
	}
	return ca, server
}

// A TLS server is a TLS listener around any net.Listener: the kernel's
// here, a tundra stack's in a program on a TUN. Each accepted connection
// does its handshake on its first Read or Write.
func ExampleNewListener() {
	ca, server := exampleCA()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ln, err := tls.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()}})
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				line, _ := bufio.NewReader(conn).ReadString('\n')
				fmt.Fprintf(conn, "you said %s", line)
			}()
		}
	}()

	d := &tls.Dialer{Config: &tls.Config{RootCAs: ca.Pool()}}
	conn, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "hello\n")
	reply, _ := bufio.NewReader(conn).ReadString('\n')
	fmt.Print(reply)
	// Output:
	// you said hello
}

// Client puts TLS on a connection that is already open, here one from the
// kernel; Server does the same for the other end.
func ExampleClient() {
	ca, server := exampleCA()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer inner.Close()
	go func() {
		raw, err := inner.Accept()
		if err != nil {
			return
		}
		s, _ := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()}})
		defer s.Close()
		io.WriteString(s, "welcome\n")
	}()

	raw, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	c, err := tls.Client(raw, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	greeting, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	state := c.ConnectionState()
	fmt.Print(greeting)
	fmt.Println(cryptotls.VersionName(state.Version), state.NegotiatedProtocol)
	// Output:
	// welcome
	// TLS 1.3 http/1.1
}

// A Dialer wraps any dial function: pass a tundra stack's DialContext as
// NetDialContext, or leave it nil for the kernel. The server name to check
// comes from the address. An error says why a certificate was refused.
func ExampleDialer() {
	_, server := exampleCA()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ln, _ := tls.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()}})
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.Read(make([]byte, 1)) // runs the handshake
			}()
		}
	}()

	var nd net.Dialer
	d := &tls.Dialer{
		NetDialContext: nd.DialContext,
		// This client trusts another CA than the one that signed the server.
		Config:           &tls.Config{RootCAs: must(tls.NewCA("some other CA")).Pool()},
		HandshakeTimeout: 5 * time.Second,
	}
	_, err = d.DialContext(context.Background(), "tcp", ln.Addr().String())
	fmt.Println(errors.Is(err, tls.ErrUnknownAuthority))
	fmt.Println(strings.SplitN(err.Error(), ":", 3)[1])
	// Output:
	// true
	//  server certificate refused
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}

// Mutual TLS: the server requires a client certificate signed by its CA.
func ExampleConfig_mutualTLS() {
	ca, server := exampleCA()
	client := must(ca.IssueClient("student-1"))

	serverCfg := &tls.Config{
		Certificates: []tls.Certificate{server.TLSCertificate()},
		ClientAuth:   tls.RequireClientCert,
		ClientCAs:    ca.Pool(),
	}
	clientCfg := &tls.Config{
		Certificates: []tls.Certificate{client.TLSCertificate()},
		RootCAs:      ca.Pool(),
		ServerName:   "localhost",
	}

	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ln, err := tls.NewListener(inner, serverCfg)
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		s := conn.(*tls.Conn)
		if err := s.Handshake(); err != nil {
			return // the error says which certificate was refused and why
		}
		fmt.Fprintf(s, "server sees %s\n", s.ConnectionState().PeerCertificates[0].Subject)
	}()

	d := &tls.Dialer{Config: clientCfg}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(reply)
	// Output:
	// server sees CN=student-1
}

// A key log lets Wireshark decrypt a capture of these connections: set
// Wireshark's TLS "(Pre)-Master-Secret log filename" to the file. Here it is
// opened from SSLKEYLOGFILE, as curl and browsers do, so keys are written
// only when the user asks for them.
func ExampleKeyLogFromEnv() {
	ca, server := exampleCA()
	path := filepath.Join(os.TempDir(), "tundra-example-keys.log")
	defer os.Remove(path)
	os.Setenv(tls.KeyLogEnv, path) // as `SSLKEYLOGFILE=... program` would
	defer os.Unsetenv(tls.KeyLogEnv)

	keyLog, err := tls.KeyLogFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	clientCfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
	if keyLog != nil {
		defer keyLog.Close()
		clientCfg.KeyLogWriter = keyLog
	}

	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	s, _ := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()}})
	c, _ := tls.Client(b, clientCfg)
	go s.Handshake()
	if err := c.Handshake(); err != nil {
		log.Fatal(err)
	}
	keyLog.Close()

	data, _ := os.ReadFile(path)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		label, _, _ := strings.Cut(line, " ")
		fmt.Println(label, "<client random> <secret>")
	}
	// Unordered output:
	// CLIENT_HANDSHAKE_TRAFFIC_SECRET <client random> <secret>
	// SERVER_HANDSHAKE_TRAFFIC_SECRET <client random> <secret>
	// CLIENT_TRAFFIC_SECRET_0 <client random> <secret>
	// SERVER_TRAFFIC_SECRET_0 <client random> <secret>
}

// A Trace prints each handshake step as it happens; Handler gets the same
// steps as events for tools. Set it on the client, the server or both.
func ExampleTrace() {
	ca, server := exampleCA()
	var steps []string
	trace := &tls.Trace{
		Writer: io.Discard, // os.Stderr in a real program
		Handler: func(ev tls.Event) {
			switch ev := ev.(type) {
			case *tls.ClientHelloEvent:
				steps = append(steps, fmt.Sprintf("ClientHello: SNI %q, ALPN %v", ev.ServerName, ev.ALPN))
			case *tls.ServerHelloEvent:
				steps = append(steps, fmt.Sprintf("ServerHello: ALPN %q", ev.ALPN))
			case *tls.CertificatesEvent:
				steps = append(steps, fmt.Sprintf("Certificate: %s", ev.Chain[0].Subject))
			case *tls.VerificationEvent:
				steps = append(steps, fmt.Sprintf("verified %v up to %s", ev.Verified, ev.TrustedCA))
			case *tls.DoneEvent:
				steps = append(steps, fmt.Sprintf("done, resumed %v", ev.Resumed))
			}
		},
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	s, _ := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()}})
	c, _ := tls.Client(b, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Trace: trace})
	go s.Handshake()
	if err := c.Handshake(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Join(steps, "\n"))
	// Output:
	// ClientHello: SNI "localhost", ALPN [http/1.1]
	// ServerHello: ALPN "http/1.1"
	// Certificate: CN=localhost
	// verified true up to CN=example CA,O=tundra test CA
	// done, resumed false
}
