//go:build linux

package tun

// SetOffloadIoctl replaces the TUNSETOFFLOAD call for a test, so that the
// fallback paths of Open can be exercised on a kernel that supports
// everything. It returns a function that restores the real call.
func SetOffloadIoctl(f func(fd, flags int) error) (restore func()) {
	old := setOffload
	setOffload = f
	return func() { setOffload = old }
}
