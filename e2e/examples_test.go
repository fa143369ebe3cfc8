//go:build linux

package e2e

import (
	"bytes"
	"crypto/sha256"
	cryptotls "crypto/tls"
	"fmt"
	"net"
	nethttp "net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tundra-net/tundra/link/tun/netnstest"
	"github.com/tundra-net/tundra/tls"
)

// exampleTUN is the persistent TUN device the example tests create for an
// example to attach to, as an administrator would (ip tuntap add).
const exampleTUN = "tunex"

// newExampleEnv makes a namespace with a persistent TUN whose kernel side
// is configured and whose other side nothing holds yet: the example
// program started by the test attaches to it with -tun.
func newExampleEnv(t *testing.T) *env {
	t.Helper()
	ns := netnstest.New(t)
	ns.Run("ip", "tuntap", "add", "dev", exampleTUN, "mode", "tun")
	ns.ConfigureTUN(exampleTUN)
	return &env{t: t, ns: ns, dir: t.TempDir()}
}

var (
	buildExamplesOnce sync.Once
	examplesDir       string
	buildExamplesErr  error
)

// exampleBinary builds the examples (once per test binary) and returns the
// path of the named one.
func exampleBinary(t *testing.T, name string) string {
	t.Helper()
	buildExamplesOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		examplesDir, buildExamplesErr = os.MkdirTemp("", "tundra-e2e-examples")
		if buildExamplesErr != nil {
			return
		}
		cmd := exec.Command(goTool, "build", "-o", examplesDir+string(filepath.Separator),
			"../examples/httpd", "../examples/get", "../examples/proxy")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildExamplesErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildExamplesErr != nil {
		t.Fatal(buildExamplesErr)
	}
	return filepath.Join(examplesDir, name)
}

// TestMain removes the built examples after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if examplesDir != "" {
		os.RemoveAll(examplesDir)
	}
	os.Exit(code)
}

// TestExampleHTTPD: examples/httpd -tun serves its site from tundra's
// stack to curl on the kernel side, and stops cleanly on Ctrl-C.
func TestExampleHTTPD(t *testing.T) {
	needTools(t, "curl")
	e := newExampleEnv(t)
	bin := exampleBinary(t, "httpd")
	site := filepath.Join(e.dir, "site")
	if err := os.Mkdir(site, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(site, "note.txt"), []byte("served by tundra\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := e.ns.Command(bin, "-tun", exampleTUN, "-addr", stackAddr, "-dir", site)
	log := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	e.waitListening(stackAddr+":80", log)

	base := "http://" + stackAddr
	for path, want := range map[string]string{
		"/":               "<h1>tundra httpd</h1>",
		"/hello":          "hello, world\n",
		"/files/note.txt": "served by tundra\n",
		"/headers":        "from " + kernelAddr + ":",
		"/bytes/100000":   string(contractBytes(100000)),
	} {
		out := e.mustExec("curl", "-sS", "--fail", "--max-time", "10", base+path)
		if !strings.Contains(out.stdout, want) {
			t.Errorf("%s: %.200q, want it to contain %.200q", path, out.stdout, want)
		}
	}
	out, err := e.exec("curl", "-sS", "--fail", "--max-time", "10", base+"/files/missing")
	if err == nil || !strings.Contains(out.stderr, "404") {
		t.Errorf("missing file: %v %q", err, out.stderr)
	}

	// ip netns exec runs the program in its own process: the interrupt
	// goes straight to httpd, which shuts down gracefully.
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		exited <- err // for the deferred Wait
		if err != nil {
			t.Fatalf("httpd exited with %v after SIGINT:\n%s", err, log)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("httpd still running 10 s after SIGINT:\n%s", log)
	}
	if !strings.Contains(log.String(), "serving "+site+" on http://0.0.0.0:80/") {
		t.Errorf("httpd's log:\n%s", log)
	}
}

// TestExampleGet: examples/get -tun fetches a large body from a net/http
// server on the kernel side through tundra's stack, draws its progress
// bar, and writes exactly the bytes served.
func TestExampleGet(t *testing.T) {
	e := newExampleEnv(t)
	bin := exampleBinary(t, "get")
	body := randomBytes(16<<20, 5)
	l := e.kernelListen()
	srv := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.URL.Path != "/big" {
			nethttp.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body)
	})}
	go srv.Serve(l)
	defer srv.Close()

	file := filepath.Join(e.dir, "big.bin")
	out := e.mustExec(bin, "-tun", exampleTUN, "-addr", stackAddr, "-timeout", "20s", "-i",
		"-o", file, "http://"+l.Addr().String()+"/big")
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("got %d bytes, sha256 %x; served %d, sha256 %x", len(got), sha256.Sum256(got), len(body), sha256.Sum256(body))
	}
	for _, want := range []string{
		"HTTP/1.1 200 OK", "Content-Length: 16777216", // -i
		"downloading", "100%", // the progress bar
		"16777216 bytes written to " + file,
	} {
		if !strings.Contains(out.stderr, want) {
			t.Errorf("get's standard error lacks %q:\n%s", want, out.stderr)
		}
	}

	// A server that is not there: get fails and says so.
	out, err = e.exec(bin, "-tun", exampleTUN, "-addr", stackAddr, "-timeout", "10s", "http://"+kernelAddr+":1/")
	if err == nil || !strings.Contains(out.stderr, "refused") {
		t.Errorf("get from a closed port: %v\n%s", err, out.stderr)
	}
	// The stack's address given as the kernel's: refused with advice.
	out, err = e.exec(bin, "-tun", exampleTUN, "-addr", kernelAddr, "http://"+kernelAddr+":1/")
	if err == nil || !strings.Contains(out.stderr, "is the kernel's own address") {
		t.Errorf("get with the kernel's address: %v\n%s", err, out.stderr)
	}
}

// TestExampleProxy: examples/proxy -tun accepts curl's requests on the
// stack and reaches kernel-side origins through it: a plain GET is
// forwarded (with Via), and an HTTPS request goes through a CONNECT
// tunnel, verified end to end by curl.
func TestExampleProxy(t *testing.T) {
	needTools(t, "curl")
	e := newExampleEnv(t)
	bin := exampleBinary(t, "proxy")

	// A plain HTTP origin that reports what it received.
	plain := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		fmt.Fprintf(w, "origin saw %s %s via=%q from %s", r.Method, r.URL.Path, r.Header.Get("Via"), r.RemoteAddr)
	})}
	plainL := e.kernelListen()
	go plain.Serve(plainL)
	defer plain.Close()

	// An HTTPS origin with a certificate from a CA that only curl trusts:
	// the proxy just copies bytes.
	ca, certFile, keyFile := kernelServerCert(t, e.dir)
	cert, err := tls.LoadKeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(e.dir, "origin-ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	secure := &nethttp.Server{
		Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			fmt.Fprintf(w, "secret over %s", r.Proto)
		}),
		TLSConfig: &cryptotls.Config{Certificates: []cryptotls.Certificate{cert}},
	}
	secureL := e.kernelListen()
	go secure.ServeTLS(secureL, "", "")
	defer secure.Close()

	log := e.start(bin, "-tun", exampleTUN, "-addr", stackAddr)
	proxyAddr := stackAddr + ":3128"
	e.waitListening(proxyAddr, log)

	out := e.mustExec("curl", "-sS", "-v", "--fail", "--max-time", "10", "-x", "http://"+proxyAddr,
		"http://"+plainL.Addr().String()+"/page")
	// The origin sees the proxy's stack as the client.
	if want := `origin saw GET /page via="1.1 tundra-proxy" from ` + stackAddr + ":"; !strings.HasPrefix(out.stdout, want) {
		t.Errorf("forwarded GET: %q, want prefix %q", out.stdout, want)
	}
	if !strings.Contains(out.stderr, "< Via: 1.1 tundra-proxy") {
		t.Errorf("response lacks Via:\n%s", out.stderr)
	}

	out = e.mustExec("curl", "-sS", "-v", "--fail", "--max-time", "10", "-x", "http://"+proxyAddr,
		"--cacert", caFile, "https://"+secureL.Addr().String()+"/")
	if out.stdout != "secret over HTTP/2.0" && out.stdout != "secret over HTTP/1.1" {
		t.Errorf("through the tunnel: %q", out.stdout)
	}
	for _, want := range []string{"> CONNECT " + secureL.Addr().String(), "< HTTP/1.1 200 Connection Established", "SSL certificate verify ok"} {
		if !strings.Contains(out.stderr, want) {
			t.Errorf("curl -v lacks %q:\n%s", want, out.stderr)
		}
	}

	// A tunnel to a port where nothing listens: 502 from the proxy.
	closed := e.kernelListen() // only to find a port number no one uses
	port := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	out, _ = e.exec("curl", "-sS", "-v", "--max-time", "10", "-x", "http://"+proxyAddr,
		fmt.Sprintf("https://%s:%d/", kernelAddr, port))
	if !strings.Contains(out.stderr, "< HTTP/1.1 502") {
		t.Errorf("CONNECT to a closed port:\n%s", out.stderr)
	}
}
