//go:build !race

package stack

// raceEnabled: the race detector allocates, so allocation counts are not
// checked under it.
const raceEnabled = false
