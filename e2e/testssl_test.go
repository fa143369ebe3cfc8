//go:build linux

package e2e

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testsslEnv turns TestTestSSL on; it takes a minute or more, so it does
// not run by default.
const testsslEnv = "TUNDRA_TESTSSL"

// TestTestSSL runs testssl.sh (Debian package testssl.sh) once against our
// HTTPS server on the stack: protocols, server defaults and preferences,
// ciphers by category, vulnerabilities and HTTP headers. It fails on the
// findings that would be real weaknesses: an offered protocol older than
// TLS 1.2, a chain that does not verify against the services' CA, any
// vulnerability testssl.sh reports as VULNERABLE, or a broken test run. The findings are recorded in docs/tls.md.
func TestTestSSL(t *testing.T) {
	if os.Getenv(testsslEnv) != "1" {
		t.Skipf("slow: set %s=1 to run testssl.sh against the stack", testsslEnv)
	}
	needTools(t, "testssl")
	e := newEnv(t)
	start := time.Now()
	out, err := e.execFor(5*time.Minute, nil, "testssl", "--quiet", "--color", "0", "--warnings", "batch",
		"--ip", stackAddr, "--openssl-timeout", "5", "--connect-timeout", "5", "--add-ca", e.caFile,
		"-p", "-S", "-P", "-s", "-U", "-h", "https://"+stackAddr+"/")
	t.Logf("testssl.sh took %v:\n%s", time.Since(start).Round(time.Second), out.stdout)
	// testssl.sh exits non-zero for findings as well as for failures, so
	// its output, not its status, is judged.
	if err != nil && !strings.Contains(out.stdout, "Done ") {
		t.Fatalf("testssl.sh did not finish: %v\n%s", err, out.stderr)
	}
	for _, old := range []string{"SSLv2", "SSLv3", "TLS 1 ", "TLS 1.1"} {
		re := regexp.MustCompile(`(?m)^ ` + regexp.QuoteMeta(old) + `\s+offered`)
		if re.MatchString(out.stdout) {
			t.Errorf("%s is offered", strings.TrimSpace(old))
		}
	}
	// With the services' CA added, the chain must verify.
	if !regexp.MustCompile(`(?m)^ Chain of trust\s+Ok`).MatchString(out.stdout) {
		t.Errorf("testssl.sh does not trust the chain")
	}
	for _, line := range strings.Split(out.stdout, "\n") {
		if strings.Contains(line, "VULNERABLE") && !strings.Contains(line, "not vulnerable") {
			t.Errorf("testssl.sh: %s", strings.TrimSpace(line))
		}
	}
}
