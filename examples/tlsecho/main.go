// Command tlsecho is a TLS echo server and client that prints every
// handshake step, for watching TLS work.
//
// Run both ends in memory on two tundra stacks joined by a virtual cable
// (no root, no TUN): two connections, the second one resumed.
//
//	go run ./examples/tlsecho -demo
//
// Or on the kernel's TCP, in two terminals; the first run writes a CA and
// certificates into -pki, and curl or openssl can use them too:
//
//	go run ./examples/tlsecho -listen 127.0.0.1:8443 -pki ./pki
//	go run ./examples/tlsecho -connect 127.0.0.1:8443 -pki ./pki
//	openssl s_client -connect 127.0.0.1:8443 -CAfile ./pki/ca.pem
//
// Add -mtls to both to require client certificates, and -keylog keys.log
// (or set SSLKEYLOGFILE) to let Wireshark decrypt a capture.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tundra-net/tundra/link/pipe"
	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tls"
)

func main() {
	listen := flag.String("listen", "", "serve TLS echo on this kernel TCP address")
	connect := flag.String("connect", "", "connect to this address, send a line, print the reply")
	demo := flag.Bool("demo", false, "run server and client on two in-memory tundra stacks")
	pkiDir := flag.String("pki", "pki", "directory of ca.pem, server.pem, client.pem and keys (made if missing)")
	names := flag.String("names", "localhost,127.0.0.1", "names for a new server certificate, comma-separated")
	mtls := flag.Bool("mtls", false, "require (server) or send (client) a client certificate")
	keyLog := flag.String("keylog", "", "append TLS secrets to this file (default: $SSLKEYLOGFILE, if set)")
	quiet := flag.Bool("quiet", false, "do not print the handshake trace")
	flag.Parse()

	var trace *tls.Trace
	if !*quiet {
		trace = tls.NewTrace(os.Stderr)
	}
	keys, err := openKeyLog(*keyLog)
	if err != nil {
		log.Fatal(err)
	}
	if keys != nil {
		defer keys.Close()
	}

	switch {
	case *demo:
		err = runDemo(os.Stdout, trace, keys)
	case *listen != "":
		var pki *PKI
		if pki, err = loadOrMakePKI(*pkiDir, strings.Split(*names, ",")); err == nil {
			err = serve(*listen, serverConfig(pki, *mtls, trace, keys))
		}
	case *connect != "":
		var pki *PKI
		if pki, err = loadOrMakePKI(*pkiDir, strings.Split(*names, ",")); err == nil {
			err = echoOnce(os.Stdout, &tls.Dialer{Config: clientConfig(pki, *mtls, trace, keys)}, *connect, "hello over TLS")
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func openKeyLog(path string) (io.WriteCloser, error) {
	if path != "" {
		return tls.OpenKeyLog(path)
	}
	return tls.KeyLogFromEnv()
}

// PKI is the test network's CA with a server and a client certificate.
type PKI struct {
	CA             *tls.CA
	Server, Client tls.Certificate
}

// loadOrMakePKI loads the files in dir, or makes and writes them first.
func loadOrMakePKI(dir string, names []string) (*PKI, error) {
	path := func(name string) string { return filepath.Join(dir, name) }
	if _, err := os.Stat(path("ca.pem")); errors.Is(err, os.ErrNotExist) {
		if err := makePKI(dir, names); err != nil {
			return nil, err
		}
		log.Printf("wrote a new CA and certificates for %v into %s", names, dir)
	}
	ca, err := tls.LoadCA(path("ca.pem"), path("ca-key.pem"))
	if err != nil {
		return nil, err
	}
	server, err := tls.LoadKeyPair(path("server.pem"), path("server-key.pem"))
	if err != nil {
		return nil, err
	}
	client, err := tls.LoadKeyPair(path("client.pem"), path("client-key.pem"))
	if err != nil {
		return nil, err
	}
	return &PKI{CA: ca, Server: server, Client: client}, nil
}

func makePKI(dir string, names []string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, err := tls.NewCA("tlsecho test CA")
	if err != nil {
		return err
	}
	server, err := ca.IssueServer(names...)
	if err != nil {
		return err
	}
	client, err := ca.IssueClient("tlsecho client")
	if err != nil {
		return err
	}
	path := func(name string) string { return filepath.Join(dir, name) }
	return errors.Join(
		ca.WriteFiles(path("ca.pem"), path("ca-key.pem")),
		server.WriteFiles(path("server.pem"), path("server-key.pem")),
		client.WriteFiles(path("client.pem"), path("client-key.pem")),
	)
}

func serverConfig(pki *PKI, mtls bool, trace *tls.Trace, keys io.Writer) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{pki.Server}, Trace: trace, KeyLogWriter: keys}
	if mtls {
		cfg.ClientAuth = tls.RequireClientCert
		cfg.ClientCAs = pki.CA.Pool()
	}
	return cfg
}

func clientConfig(pki *PKI, mtls bool, trace *tls.Trace, keys io.Writer) *tls.Config {
	cfg := &tls.Config{RootCAs: pki.CA.Pool(), Trace: trace, KeyLogWriter: keys}
	if mtls {
		cfg.Certificates = []tls.Certificate{pki.Client}
	}
	return cfg
}

// serve runs the echo server on the kernel's TCP until it fails.
func serve(addr string, cfg *tls.Config) error {
	inner, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ln, err := tls.NewListener(inner, cfg)
	if err != nil {
		return err
	}
	log.Printf("TLS echo on %s", ln.Addr())
	return echoServer(ln)
}

// echoServer echoes each connection's bytes back, with an idle limit.
func echoServer(ln net.Listener) error {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer conn.Close()
			buf := make([]byte, 16<<10)
			for {
				conn.SetDeadline(time.Now().Add(time.Minute))
				n, err := conn.Read(buf)
				if n > 0 {
					if _, werr := conn.Write(buf[:n]); werr != nil {
						log.Print(werr)
						return
					}
				}
				if err != nil {
					if err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
						log.Print(err)
					}
					return
				}
			}
		}()
	}
}

// echoOnce connects, sends line, and prints the echo and the session state.
func echoOnce(out io.Writer, d *tls.Dialer, addr, line string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return err
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	state := conn.(*tls.Conn).ConnectionState()
	fmt.Fprintf(out, "echo: %s", reply)
	fmt.Fprintf(out, "resumed: %v\n", state.DidResume)
	return nil
}

// Addresses of the two in-memory stacks (198.18.0.0/15 is for tests).
var (
	serverAddr = netip.MustParseAddr("198.18.0.1")
	clientAddr = netip.MustParseAddr("198.18.0.2")
)

// runDemo joins two tundra stacks with an in-memory link, serves TLS echo
// on one and connects twice from the other.
func runDemo(out io.Writer, trace *tls.Trace, keys io.Writer) error {
	serverEnd, clientEnd := pipe.New(pipe.Options{})
	serverStack, err := stack.New(serverEnd, stack.Options{Addresses: []netip.Addr{serverAddr}})
	if err != nil {
		return err
	}
	defer serverStack.Close()
	clientStack, err := stack.New(clientEnd, stack.Options{Addresses: []netip.Addr{clientAddr}})
	if err != nil {
		return err
	}
	defer clientStack.Close()

	ca, err := tls.NewCA("tlsecho demo CA")
	if err != nil {
		return err
	}
	server, err := ca.IssueServer(serverAddr.String())
	if err != nil {
		return err
	}

	inner, err := serverStack.Listen("tcp", netip.AddrPortFrom(serverAddr, 443).String())
	if err != nil {
		return err
	}
	ln, err := tls.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()}, Trace: trace})
	if err != nil {
		return err
	}
	defer ln.Close()
	go echoServer(ln)

	d := &tls.Dialer{
		NetDialContext: clientStack.DialContext, // TLS over tundra's TCP
		Config:         &tls.Config{RootCAs: ca.Pool(), Trace: trace, KeyLogWriter: keys},
	}
	for i := range 2 {
		fmt.Fprintf(out, "connection %d\n", i+1)
		if err := echoOnce(out, d, ln.Addr().String(), fmt.Sprintf("hello %d", i+1)); err != nil {
			return err
		}
	}
	return nil
}
