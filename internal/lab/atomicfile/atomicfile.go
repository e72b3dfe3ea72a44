// Package atomicfile owns the one way the lab replaces a state file: a
// temporary file beside it, renamed over it. A process that dies while
// saving (a replicator's position, the lab's state, a function's
// configuration) leaves the old contents or the new ones, never half.
package atomicfile

import "os"

// Write replaces path with b atomically, with permissions perm for a new
// file.
func Write(path string, b []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
